"""Sequence-to-sequence LSTMs for arithmetic, each registered by name in MODELS.

Every model maps question ids int32 [B, query_len] to logits
float32 [B, answer_len, vocab]. Called with `targets` (int32 [B, answer_len])
a model may use them for teacher forcing (training); called without, it
decodes free-running (greedy), which is what evaluation measures.

The LSTM is written out with Keras' parameter layout (one `kernel` [in, 4H],
one `recurrent_kernel` [H, 4H], one `bias` [4H], gates ordered i, f, c, o) and
Keras' initialisers (glorot-uniform, orthogonal, forget-gate bias 1), so
`keras_lstm` has the example's 205,324 parameters and trains like it. The input
projection of a whole sequence is one matmul outside the recurrence, which is
most of the work on a CPU.
"""
from typing import Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

MODELS = Registry('model', 'model.name')

Carry = Tuple[jax.Array, jax.Array]  # (c, h), each float32 [B, H]

glorot_uniform = nn.initializers.glorot_uniform()
orthogonal = nn.initializers.orthogonal()


def keras_lstm_bias(key, shape, dtype=jnp.float32):
  """Zeros, except ones for the forget gate (Keras' unit_forget_bias=True)."""
  del key
  hidden = shape[0] // 4
  return jnp.zeros(shape, dtype).at[hidden:2 * hidden].set(1.0)


def keras2_hard_sigmoid(x: jax.Array) -> jax.Array:
  """Keras 2's (and tf.keras 1.x's) hard_sigmoid: clip(0.2 x + 0.5, 0, 1).

  Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6; this is the old one,
  the LSTM gate default before TensorFlow 2.0.
  """
  return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


# model.recurrent_activation -> the LSTM's gate function.
GATES = {'sigmoid': jax.nn.sigmoid, 'hard_sigmoid': keras2_hard_sigmoid}


def lstm_cell(params, carry: Carry, x_proj: jax.Array, gate=jax.nn.sigmoid) -> Carry:
  """One LSTM step; `x_proj` is the input already times `kernel` plus `bias`."""
  c, h = carry
  z = x_proj + h @ params['recurrent_kernel']
  i, f, g, o = jnp.split(z, 4, axis=-1)
  c = gate(f) * c + gate(i) * jnp.tanh(g)
  h = gate(o) * jnp.tanh(c)
  return c, h


class LSTMParams(nn.Module):
  """The weights of one Keras-layout LSTM layer, returned as a dict.

  Returning the arrays (instead of a module that applies them) lets the
  recurrences below be plain `jax.lax.scan`s, including the greedy decoder,
  whose input at each step is its own previous output.
  """
  features: int

  @nn.compact
  def __call__(self, in_features: int):
    h4 = 4 * self.features
    return {
        'kernel': self.param('kernel', glorot_uniform, (in_features, h4)),
        'recurrent_kernel': self.param('recurrent_kernel', orthogonal, (self.features, h4)),
        'bias': self.param('bias', keras_lstm_bias, (h4,)),
    }


class DenseParams(nn.Module):
  """Kernel and bias of a Keras Dense layer (glorot-uniform, zeros)."""
  features: int

  @nn.compact
  def __call__(self, in_features: int):
    return {'kernel': self.param('kernel', glorot_uniform, (in_features, self.features)),
            'bias': self.param('bias', nn.initializers.zeros, (self.features,))}


def run_lstm(params, inputs: jax.Array, carry: Optional[Carry] = None,
             unroll: bool = True, gate=jax.nn.sigmoid) -> Tuple[Carry, jax.Array]:
  """An LSTM over a sequence.

  Args:
    params: LSTMParams' dict.
    inputs: float32 [B, T, D].
    carry: initial (c, h), each [B, H]; zeros if None.
    unroll: unroll the (short) time loop: XLA then fuses across steps.
    gate: the gates' activation (GATES).

  Returns:
    The final carry (c, h) and the outputs h, float32 [B, T, H].
  """
  batch = inputs.shape[0]
  hidden = params['recurrent_kernel'].shape[0]
  if carry is None:
    carry = (jnp.zeros((batch, hidden), inputs.dtype),) * 2
  x_proj = inputs @ params['kernel'] + params['bias']  # [B, T, 4H]

  def step(carry, x):
    carry = lstm_cell(params, carry, x, gate)
    return carry, carry[1]

  carry, hs = jax.lax.scan(step, carry, jnp.swapaxes(x_proj, 0, 1), unroll=unroll)
  return carry, jnp.swapaxes(hs, 0, 1)


class KerasLSTM(nn.Module):
  """The Keras `addition_rnn` model.

  LSTM(H) encoder -> RepeatVector(answer_len) -> LSTM(H, return_sequences)
  -> TimeDistributed(Dense(vocab)); the softmax is left to the loss. With
  H=128 and 12 characters: 72,192 + 131,584 + 1,548 = 205,324 parameters.
  The decoder never sees its own outputs, so training and evaluation are the
  same computation and every prediction is free-running.
  """
  vocab_size: int
  answer_length: int
  hidden_size: int = 128
  unroll: bool = True
  recurrent_activation: str = 'sigmoid'

  @nn.compact
  def __call__(self, inputs: jax.Array, targets: Optional[jax.Array] = None) -> jax.Array:
    del targets
    gate = GATES[self.recurrent_activation]
    x = jax.nn.one_hot(inputs, self.vocab_size)  # [B, Tq, V]
    encoder = LSTMParams(self.hidden_size, name='encoder')(self.vocab_size)
    (_, h), _ = run_lstm(encoder, x, unroll=self.unroll, gate=gate)  # h: [B, H]
    repeated = jnp.repeat(h[:, None, :], self.answer_length, axis=1)  # [B, Ta, H]
    decoder = LSTMParams(self.hidden_size, name='decoder')(self.hidden_size)
    _, ys = run_lstm(decoder, repeated, unroll=self.unroll, gate=gate)  # [B, Ta, H]
    dense = DenseParams(self.vocab_size, name='dense')(self.hidden_size)
    return ys @ dense['kernel'] + dense['bias']  # [B, Ta, V]


class EncoderDecoder(nn.Module):
  """An LSTM encoder-decoder with teacher forcing (flax examples/seq2seq style).

  The encoder's final (c, h) starts the decoder. At answer position t the
  decoder reads the one-hot answer character t-1 (all zeros at t=0, the "go"
  input): the true one when `targets` are given (teacher forcing, training),
  its own argmax otherwise (greedy decoding). With H=128 and 12 characters it
  has 72,192 + 72,192 + 1,548 = 145,932 parameters.
  """
  vocab_size: int
  answer_length: int
  hidden_size: int = 128
  unroll: bool = True
  recurrent_activation: str = 'sigmoid'

  @nn.compact
  def __call__(self, inputs: jax.Array, targets: Optional[jax.Array] = None) -> jax.Array:
    v = self.vocab_size
    gate = GATES[self.recurrent_activation]
    x = jax.nn.one_hot(inputs, v)  # [B, Tq, V]
    encoder = LSTMParams(self.hidden_size, name='encoder')(v)
    carry, _ = run_lstm(encoder, x, unroll=self.unroll, gate=gate)
    decoder = LSTMParams(self.hidden_size, name='decoder')(v)
    dense = DenseParams(v, name='dense')(self.hidden_size)
    batch = inputs.shape[0]
    go = jnp.zeros((batch, 1, v), x.dtype)

    if targets is not None:
      previous = jax.nn.one_hot(targets[:, :-1], v)  # [B, Ta-1, V]
      _, ys = run_lstm(decoder, jnp.concatenate([go, previous], axis=1), carry,
                       unroll=self.unroll, gate=gate)
      return ys @ dense['kernel'] + dense['bias']

    def step(state, _):
      carry, previous = state
      carry = lstm_cell(decoder, carry, previous @ decoder['kernel'] + decoder['bias'], gate)
      logits = carry[1] @ dense['kernel'] + dense['bias']  # [B, V]
      return (carry, jax.nn.one_hot(logits.argmax(-1), v)), logits

    _, logits = jax.lax.scan(step, (carry, go[:, 0]), None, length=self.answer_length,
                             unroll=self.unroll)
    return jnp.swapaxes(logits, 0, 1)  # [B, Ta, V]


MODELS.add('keras_lstm', KerasLSTM)
MODELS.add('encoder_decoder', EncoderDecoder)


def create_model(name: str, vocab_size: int, answer_length: int, hidden_size: int,
                 **kwargs) -> nn.Module:
  """The model registered as `name` (UserError listing the known ones otherwise)."""
  activation = kwargs.get('recurrent_activation', 'sigmoid')
  if activation not in GATES:
    raise UserError(f'model.recurrent_activation={activation!r} is not one of '
                    f'{sorted(GATES)}')
  return MODELS.get(name)(vocab_size=vocab_size, answer_length=answer_length,
                          hidden_size=hidden_size, **kwargs)


def count_params(params) -> int:
  return sum(x.size for x in jax.tree_util.tree_leaves(params))

