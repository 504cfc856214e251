"""The seq2seq models: Keras' parameter count, the LSTM maths, greedy decoding."""
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab.core.errors import UserError
from configs.seq2seq import keras
from seq2seq import models
from seq2seq import train


def init(name, vocab=12, answer_length=4, hidden=128, query_length=7, shapes_only=False):
  # Rolled loops compile faster; run_lstm is checked both ways below.
  model = models.create_model(name, vocab, answer_length, hidden, unroll=False)
  fn = jax.eval_shape if shapes_only else lambda f, *a: jax.jit(f)(*a)
  params = fn(model.init, jax.random.key(0), jnp.zeros((1, query_length), jnp.int32))
  return model, params['params']


def apply(model, params, *args):
  return jax.jit(model.apply)({'params': params}, *args)  # jitted: eager is slower


def test_keras_lstm_has_the_keras_example_param_count():
  _, params = init('keras_lstm', shapes_only=True)
  assert models.count_params(params) == 205_324
  shapes = jax.tree_util.tree_map(jnp.shape, params)
  assert shapes['encoder'] == {'kernel': (12, 512), 'recurrent_kernel': (128, 512),
                               'bias': (512,)}
  assert shapes['decoder']['kernel'] == (128, 512)
  assert shapes['dense'] == {'kernel': (128, 12), 'bias': (12,)}
  # Keras' unit_forget_bias: ones for the forget gate (i, f, c, o order) only.
  _, params = init('keras_lstm', hidden=4)
  np.testing.assert_array_equal(params['encoder']['bias'],
                                np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_encoder_decoder_param_count():
  _, params = init('encoder_decoder', shapes_only=True)
  assert models.count_params(params) == 72_192 + 72_192 + 1_548


def test_unknown_model_lists_known_ones():
  with pytest.raises(UserError, match='encoder_decoder, keras_lstm'):
    models.create_model('keras', 12, 4, 8)


def test_run_lstm_matches_the_keras_equations():
  rng = np.random.default_rng(0)
  d, h, t, b = 3, 4, 5, 2
  p = {'kernel': rng.normal(size=(d, 4 * h)), 'recurrent_kernel': rng.normal(size=(h, 4 * h)),
       'bias': rng.normal(size=4 * h)}
  x = rng.normal(size=(b, t, d))
  sig = lambda z: 1 / (1 + np.exp(-z))
  c, hh, outs = np.zeros((b, h)), np.zeros((b, h)), []
  for s in range(t):
    z = x[:, s] @ p['kernel'] + hh @ p['recurrent_kernel'] + p['bias']
    i, f, g, o = np.split(z, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    hh = sig(o) * np.tanh(c)
    outs.append(hh)
  jp = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p)
  for unroll in (True, False):
    (c2, h2), ys = models.run_lstm(jp, jnp.asarray(x, jnp.float32), unroll=unroll)
    np.testing.assert_allclose(ys, np.stack(outs, 1), atol=1e-5)
    np.testing.assert_allclose(c2, c, atol=1e-5)
    np.testing.assert_allclose(h2, hh, atol=1e-5)


def test_hard_sigmoid_gates_equal_a_keras_lstm_with_keras_2s_hard_sigmoid():
  # Seed 004 ran tf.keras 1.x, whose LSTM gates default to clip(0.2 x + 0.5, 0, 1).
  import keras as keras_lib  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  d, h, t, b = 3, 4, 6, 2
  p = {'kernel': rng.normal(size=(d, 4 * h)), 'recurrent_kernel': rng.normal(size=(h, 4 * h)),
       'bias': rng.normal(size=4 * h)}
  x = rng.normal(size=(b, t, d)).astype(np.float32)
  keras2_hard_sigmoid = lambda z: keras_lib.ops.clip(0.2 * z + 0.5, 0.0, 1.0)
  layer = keras_lib.layers.LSTM(h, return_sequences=True, recurrent_activation=keras2_hard_sigmoid)
  layer.build((b, t, d))
  layer.set_weights([p['kernel'], p['recurrent_kernel'], p['bias']])
  expected = keras_lib.ops.convert_to_numpy(layer(x))
  jp = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p)
  _, ys = models.run_lstm(jp, jnp.asarray(x), gate=models.GATES['hard_sigmoid'])
  np.testing.assert_allclose(ys, expected, atol=1e-5)
  _, sigmoid_ys = models.run_lstm(jp, jnp.asarray(x))
  assert np.abs(np.asarray(sigmoid_ys) - expected).max() > 1e-2  # the gate matters
  # Keras 3's own 'hard_sigmoid' is another function (relu6(x + 3) / 6).
  z = np.linspace(-4, 4, 9, dtype=np.float32)
  keras3 = keras_lib.ops.convert_to_numpy(keras_lib.activations.hard_sigmoid(z))
  assert np.abs(keras3 - np.asarray(models.keras2_hard_sigmoid(z))).max() > 0.05
  with pytest.raises(UserError, match=r"recurrent_activation='relu' is not one of"):
    models.create_model('keras_lstm', 12, 4, 8, recurrent_activation='relu')


def test_greedy_decoding_feeds_back_its_own_argmax():
  model, params = init('encoder_decoder', hidden=8)
  inputs = jax.random.randint(jax.random.key(1), (6, 7), 0, 12)
  greedy = apply(model, params, inputs)
  assert greedy.shape == (6, 4, 12)
  # Teacher forcing with the greedy answer as the "truth" reproduces it.
  forced = apply(model, params, inputs, greedy.argmax(-1))
  np.testing.assert_allclose(forced, greedy, atol=1e-5)
  # ...while another answer prefix changes the later steps, not the first.
  other = apply(model, params, inputs, (greedy.argmax(-1) + 1) % 12)
  np.testing.assert_allclose(other[:, 0], greedy[:, 0], atol=1e-5)
  assert not np.allclose(other[:, 1:], greedy[:, 1:])



def test_keras_config_builds_the_keras_model():
  model = train.create_model(keras.get_config())
  params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 7), jnp.int32))
  assert isinstance(model, models.KerasLSTM)
  assert models.count_params(params['params']) == 205_324


@pytest.mark.parametrize('name,chars', [('addition', 12), ('subtract', 12), ('mixed', 13)])
def test_variant_configs(name, chars):
  config = importlib.import_module(f'configs.seq2seq.{name}').get_config()
  model = train.create_model(config)
  assert model.vocab_size == chars and model.answer_length == 4
