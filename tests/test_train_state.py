"""The one train-state builder of both labs (cnnlab.core.train_state)."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from cnnlab.core import train_state as core_train_state
from seq2seq import train as seq2seq_train
import test_seq2seq_train


def test_core_builder_keeps_collections_and_fields():
  class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train=True):
      return nn.BatchNorm(use_running_average=not train)(nn.Dense(2)(x))

  class State(train_state.TrainState):
    batch_stats: dict
    note: int

  state = core_train_state.create(State, Net(), jax.random.key(0), jnp.zeros((1, 3)),
                                  optax.sgd(0.1), collections=('batch_stats',),
                                  init_kwargs={'train': False}, note=7)
  assert state.params['Dense_0']['kernel'].shape == (3, 2)
  assert state.batch_stats['BatchNorm_0']['mean'].shape == (2,) and state.note == 7
  again = core_train_state.create(State, Net(), jax.random.key(0), jnp.zeros((1, 3)),
                                  optax.sgd(0.1), collections=('batch_stats',),
                                  init_kwargs={'train': False}, note=7)
  assert jnp.array_equal(state.params['Dense_0']['kernel'], again.params['Dense_0']['kernel'])


def test_seq2seq_state_is_the_models_own_init():
  config = test_seq2seq_train.tiny_config()
  model = seq2seq_train.create_model(config)
  state = seq2seq_train.create_train_state(config, model, 5, 8, 24, jax.random.key(3))
  direct = model.init(jax.random.key(3), jnp.zeros((1, 5), jnp.int32))['params']
  assert isinstance(state, train_state.TrainState) and int(state.step) == 0
  assert jax.tree_util.tree_all(jax.tree_util.tree_map(
      lambda a, b: bool(jnp.allclose(a, b, atol=1e-6)), state.params, direct))
