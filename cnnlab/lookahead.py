"""Lookahead-EMA of the weights (airbench94): an average the net jumps back to.

Every `every_steps` steps (after `start_epochs`; until then the EMA follows
the weights), the EMA of the params and BatchNorm statistics moves towards the
current ones, and the net is set to the EMA:

  decay = decay_base ** every_steps * (step / num_train_steps) ** decay_power
  ema   = ema + (1 - decay) * (weights - ema);   weights = ema

so early updates barely average and late ones average the most; after the
last step the net is the EMA. The EMA lives in the train state (checkpointed),
and every decision is a function of the step, so a resumed run is exact.
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections


class Settings(NamedTuple):
  """config.lookahead in numbers (hashable, bound into the jitted step)."""
  every_steps: int
  start_step: int
  num_train_steps: int
  decay_base: float
  decay_power: float


def settings(config: ml_collections.ConfigDict, steps_per_epoch: int,
             num_train_steps: int):
  """Settings from config.lookahead, or None when it is off (every_steps = 0)."""
  c = config.get('lookahead')  # absent in runs from before it existed
  if c is None or c.every_steps <= 0:
    return None
  return Settings(int(c.every_steps), int(round(c.start_epochs * steps_per_epoch)),
                  int(num_train_steps), float(c.decay_base), float(c.decay_power))


def init(params: Any, batch_stats: Any) -> Any:
  """The EMA starts as a copy of the weights (a copy: the step donates both)."""
  return jax.tree_util.tree_map(jnp.array, {'params': params, 'batch_stats': batch_stats})


def decay(s: Settings, step: jax.Array) -> jax.Array:
  """The EMA decay at (1-based) `step`, the number of updates applied so far."""
  fraction = jnp.asarray(step, jnp.float32) / s.num_train_steps
  return (s.decay_base ** s.every_steps) * fraction ** s.decay_power


def update(s: Settings, step: jax.Array, ema: Any, params: Any, batch_stats: Any):
  """(ema, params, batch_stats) after update number `step` (1-based).

  Before start_step the EMA is the weights. At an update step the EMA moves
  and the weights become it; at the last step the weights become the EMA as
  it stands (airbench's decay=1.0 update). Elsewhere nothing changes.
  """
  weights = {'params': params, 'batch_stats': batch_stats}
  started = step > s.start_step
  moves = (step % s.every_steps == 0) & started
  d = decay(s, step)
  moved = jax.tree_util.tree_map(
      # e + (1 - d) (w - e), torch's lerp_ as airbench writes it: exact where
      # w == e (a frozen parameter stays bit for bit).
      lambda e, w: jnp.where(moves, e + (1.0 - d) * (w - e),
                             jnp.where(started, e, w)).astype(e.dtype), ema, weights)
  jump = moves | (step >= s.num_train_steps)
  weights = jax.tree_util.tree_map(lambda e, w: jnp.where(jump, e, w), moved, weights)
  return moved, weights['params'], weights['batch_stats']
