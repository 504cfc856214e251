"""Optimizers over optax, each registered by name in OPTIMIZERS.

`create_optimizer` wraps the chosen optimizer in `optax.inject_hyperparams`
so the current learning rate lives in the optimizer state (logged each epoch).
"""
from typing import Any

import jax
import ml_collections
import optax

from cnnlab import schedules
from cnnlab.registry import Registry

OPTIMIZERS = Registry('optimizer', 'optimizer.name')


@OPTIMIZERS.register('sgd')
def sgd(config, learning_rate):
  return optax.sgd(learning_rate, momentum=config.optimizer.momentum or None,
                   nesterov=config.optimizer.nesterov)


@OPTIMIZERS.register('adam')
def adam(config, learning_rate):
  del config
  return optax.adam(learning_rate)


def create_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int,
                     num_train_steps: int) -> optax.GradientTransformation:
  """The optimizer named by config.optimizer.name on config.schedule."""
  schedule = schedules.create_schedule(config, steps_per_epoch, num_train_steps)
  build = OPTIMIZERS.get(config.optimizer.name)
  tx = optax.inject_hyperparams(lambda learning_rate: build(config, learning_rate))(
      learning_rate=schedule)
  if config.optimizer.grad_clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(config.optimizer.grad_clip_norm), tx)
  return tx


def current_lr(opt_state: Any) -> float:
  """The learning rate the last update used (from inject_hyperparams' state)."""
  has_hyperparams = lambda x: 'learning_rate' in getattr(x, 'hyperparams', {})
  for leaf in jax.tree_util.tree_leaves(opt_state, is_leaf=has_hyperparams):
    if has_hyperparams(leaf):
      return float(leaf.hyperparams['learning_rate'])
  raise ValueError('optimizer state has no injected learning_rate')


def after_eval(opt_state: Any, val_metrics: dict) -> Any:
  """Hook the train loop calls after each validation (reduce-on-plateau lives here)."""
  del val_metrics
  return opt_state
