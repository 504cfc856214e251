"""The pixel ops: cutout, brightness, contrast, channel_shift (random, per image)."""
import dataclasses
from typing import ClassVar, Optional

import jax.numpy as jnp

from cnnlab.augment.ops import Op, _as_range, _check, _lerp, _probability, _randint, _register


@_register('cutout')
@dataclasses.dataclass(frozen=True)
class Cutout(Op):
  """Cutout (DeVries & Taylor 2017): a size x size square set to `value`.

  The centre is uniform over the image, so the square may be clipped at the
  border. Applied with probability p.
  """
  size: int = 8
  value: float = 0.0
  p: float = 1.0

  def __post_init__(self):
    _check(isinstance(self.size, int) and self.size >= 0,
           f'cutout: size must be a non-negative int, got {self.size!r}')
    _probability(self.p, self.name)

  num_uniforms: ClassVar[int] = 3

  def apply(self, u, image):
    height, width = image.shape[:2]
    cy, cx = _randint(u[0], 0, height - 1), _randint(u[1], 0, width - 1)
    top, left = cy - self.size // 2, cx - self.size // 2
    rows, cols = jnp.arange(height)[:, None], jnp.arange(width)[None, :]
    box = (rows >= top) & (rows < top + self.size) & (cols >= left) & (cols < left + self.size)
    box &= u[2] < self.p
    return jnp.where(box[..., None], jnp.asarray(self.value, image.dtype), image)


@_register('brightness')
@dataclasses.dataclass(frozen=True)
class Brightness(Op):
  """Multiply by a factor from [lo, hi] and clip to [0, 1] (Keras brightness_range).

  brightness(0.2) means [0.8, 1.2]; brightness(0.5, 1.5) the pair itself.
  """
  lo: float = 0.0
  hi: Optional[float] = None

  def __post_init__(self):
    self._range()

  def _range(self):
    lo, hi = (_as_range(self.lo, 'brightness', center=1.0) if self.hi is None
              else _as_range((self.lo, self.hi), 'brightness'))
    _check(lo >= 0, f'brightness factors must be >= 0, got {(lo, hi)}')
    return lo, hi

  def apply(self, u, image):
    return jnp.clip(image * _lerp(u[0], *self._range()), 0.0, 1.0)


@_register('contrast')
@dataclasses.dataclass(frozen=True)
class Contrast(Op):
  """(x - channel mean) * f + channel mean, f from [lo, hi], clipped to [0, 1].

  tf.image.adjust_contrast's formula; contrast(0.2) means [0.8, 1.2].
  """
  lo: float = 0.0
  hi: Optional[float] = None

  def __post_init__(self):
    self._range()

  def _range(self):
    lo, hi = (_as_range(self.lo, 'contrast', center=1.0) if self.hi is None
              else _as_range((self.lo, self.hi), 'contrast'))
    _check(lo >= 0, f'contrast factors must be >= 0, got {(lo, hi)}')
    return lo, hi

  def apply(self, u, image):
    mean = jnp.mean(image, axis=(0, 1), keepdims=True)
    return jnp.clip((image - mean) * _lerp(u[0], *self._range()) + mean, 0.0, 1.0)


@_register('channel_shift')
@dataclasses.dataclass(frozen=True)
class ChannelShift(Op):
  """Keras channel_shift_range: add uniform(-i, i) to every channel, clip to the image's range.

  `intensity` is in 0-255 pixel units, as in Keras (one draw for all channels,
  as Keras does).
  """
  intensity: float = 0.0

  def __post_init__(self):
    _check(isinstance(self.intensity, (int, float)) and self.intensity >= 0,
           f'channel_shift: intensity must be >= 0, got {self.intensity!r}')

  def apply(self, u, image):
    shift = _lerp(u[0], -self.intensity / 255.0, self.intensity / 255.0)
    return jnp.clip(image + shift, jnp.min(image), jnp.max(image))
