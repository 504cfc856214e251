"""The op registry `OPS`, the `Op` base class and the argument helpers every op uses.

The op modules (geometric, pixel, normalization) register their classes here
with `_register`; the package's __init__ imports them all, so after
`from cnnlab import augment` the registry holds every op. Nothing here imports
another module of the package.
"""
import dataclasses
from typing import ClassVar, Tuple

import jax.numpy as jnp

from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

OPS = Registry('augmentation op', 'augment')


def _check(ok: bool, message: str) -> None:
  if not ok:
    raise UserError(message)


def _as_range(value, name: str, center: float = 0.0) -> Tuple[float, float]:
  """A magnitude m -> (center - m, center + m); a pair (lo, hi) stays itself."""
  if isinstance(value, (tuple, list)):
    _check(len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
           and value[0] <= value[1], f'{name} must be a number or a pair (lo, hi), got {value!r}')
    return float(value[0]), float(value[1])
  _check(isinstance(value, (int, float)) and value >= 0,
         f'{name} must be a non-negative number or a pair (lo, hi), got {value!r}')
  return center - float(value), center + float(value)


def _lerp(u, lo: float, hi: float):
  """u uniform in [0, 1) -> uniform in [lo, hi)."""
  return lo + (hi - lo) * u


def _randint(u, lo: int, hi: int):
  """u uniform in [0, 1) -> an integer uniform in [lo, hi] (inclusive)."""
  return jnp.clip(lo + jnp.floor(u * (hi - lo + 1)), lo, hi).astype(jnp.int32)


def _probability(p, name):
  _check(isinstance(p, (int, float)) and 0 <= p <= 1, f'{name}: p must be in [0, 1], got {p!r}')


# ---- the ops' base class and their registration -----------------------------
def _register(name: str):
  """Registers an op class under `name` and records the name on it."""

  def decorator(cls):
    cls.name = name
    return OPS.register(name)(cls)

  return decorator


class Op:
  """Base of the ops. `kind` says where the pipeline runs it.

  'affine': contributes a matrix to the one fused resampling per image.
  'random': a per-example random transform of one [H, W, C] image in [0, 1].
  'normalize': deterministic, on the batch, in training and evaluation.
  """
  name: ClassVar[str] = ''
  kind: ClassVar[str] = 'random'
  # How many uniform [0, 1) numbers one image's draw takes.
  num_uniforms: ClassVar[int] = 1

  def uniforms_for(self, image_shape) -> int:
    return self.num_uniforms

  def apply(self, u, image):
    """u: float32 [uniforms_for(shape)] in [0, 1); image [H, W, C] -> same shape."""
    raise NotImplementedError

  def __str__(self):
    fields = [f'{f.name}={getattr(self, f.name)!r}' for f in dataclasses.fields(self)]
    return f'{self.name}({", ".join(fields)})'
