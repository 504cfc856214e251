"""How both labs build a train state: a model's variables initialised on an example input.

cnnlab.steps.create_train_state (images, BatchNorm statistics, input
statistics, a lowering) and seq2seq.train.create_train_state (token ids) are
this one function with their lab's state class, input and extra fields.
"""
import functools
from typing import Any, Callable, Dict, Optional, Sequence

import jax
import optax


def initialized(model, rng: jax.Array, example: jax.Array,
                init_kwargs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
  """The variables of `model` ({'params': ..., 'batch_stats': ...}) for `example`.

  Jitted: a large net's initialisers run as one program, not op by op.
  """
  init = functools.partial(model.init, **(init_kwargs or {}))
  return dict(jax.jit(init)({'params': rng}, example))


def create(state_class, model, rng: jax.Array, example: jax.Array,
           tx: optax.GradientTransformation, *, apply_fn: Optional[Callable] = None,
           collections: Sequence[str] = (), init_kwargs: Optional[Dict[str, Any]] = None,
           **fields) -> Any:
  """`state_class.create(...)` with `model`'s parameters initialised from `rng`.

  collections: the model's variable collections besides params that the state
  keeps as fields of the same name ({} where the model has none, e.g. a net
  without BatchNorm). apply_fn: default model.apply. fields: the state class's
  own (cnnlab's input_stats, lookahead).
  """
  variables = initialized(model, rng, example, init_kwargs)
  fields.update({c: variables.get(c, {}) for c in collections})
  return state_class.create(apply_fn=apply_fn or model.apply, params=variables['params'], tx=tx,
                            **fields)
