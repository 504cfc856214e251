"""The geometric ops: rotate, translate, shear, zoom (fused into one affine
resampling per image by `_AffineStage`), flip_lr, flip_ud, pad_crop, elastic."""
import dataclasses
from typing import Any, ClassVar, Dict, Optional, Tuple

import jax.numpy as jnp
import numpy as np

from cnnlab.augment.ops import Op, _as_range, _check, _lerp, _probability, _randint, _register
from cnnlab.augment.resampling import (FILL_MODES, _fix_index, affine_sample, centered,
                                       elastic_warp, rotation_matrix, shear_matrix, shift_matrix,
                                       zoom_matrix)
from cnnlab.core.errors import UserError


class AffineOp(Op):
  """An op that draws one matrix per image; see _AffineStage."""
  kind: ClassVar[str] = 'affine'
  # Keras multiplies rotation @ shift @ shear @ zoom; this is the position.
  rank: ClassVar[int] = 0

  def matrix(self, u, height: int, width: int):
    """u: float32 [num_uniforms] in [0, 1) -> [3, 3] matrix (see rotation_matrix)."""
    raise NotImplementedError

  def resampling(self) -> Dict[str, Any]:
    """The resampling options this op sets explicitly (None = not set)."""
    return {'fill_mode': self.fill_mode, 'cval': self.cval, 'order': self.order}

  def _check_resampling(self):
    _check(self.fill_mode is None or self.fill_mode in FILL_MODES,
           f'{self.name}: fill_mode must be one of {", ".join(FILL_MODES)}, got {self.fill_mode!r}')
    _check(self.order in (None, 0, 1), f'{self.name}: order must be 0 or 1, got {self.order!r}')


@_register('rotate')
@dataclasses.dataclass(frozen=True)
class Rotate(AffineOp):
  """Rotation by uniform(-degrees, degrees), counter-clockwise positive (Keras rotation_range).

  `degrees` may be a pair (lo, hi).
  """
  degrees: Any = 0.0
  fill_mode: Optional[str] = None
  cval: Optional[float] = None
  order: Optional[int] = None
  rank: ClassVar[int] = 0

  def __post_init__(self):
    _as_range(self.degrees, 'rotate degrees')
    self._check_resampling()

  def matrix(self, u, height, width):
    return rotation_matrix(_lerp(u[0], *_as_range(self.degrees, 'degrees')))


def _draw_shift(u, spec, size: int):
  """A shift in pixels drawn like Keras' width/height_shift_range.

  float < 1: uniform(-spec, spec) * size; int >= 1: an integer from
  {0, .., spec - 1} with a random sign (np.random.choice(spec)); float >= 1:
  uniform(-spec, spec) pixels; a tuple: one of its values, random sign, taken
  as a fraction of size when all are < 1.
  """
  sign = jnp.where(u[1] < 0.5, 1.0, -1.0)
  if isinstance(spec, tuple):
    value = jnp.asarray(spec, jnp.float32)[_randint(u[0], 0, len(spec) - 1)]
    return value * sign * (size if max(spec) < 1 else 1)
  if isinstance(spec, int) and spec >= 1:
    return _randint(u[0], 0, spec - 1).astype(jnp.float32) * sign
  value = _lerp(u[0], -float(spec), float(spec))
  return value * size if spec < 1 else value


@_register('translate')
@dataclasses.dataclass(frozen=True)
class Translate(AffineOp):
  """Shift like Keras' width_shift_range / height_shift_range.

  translate(0.1): up to 10% of the size on both axes; translate(4): whole
  pixels in (-4, 4); translate(0.1, 0.2): width (columns) 0.1, height (rows)
  0.2; translate((2, 4)): one of the listed values with a random sign.
  """
  width: Any = 0.0
  height: Any = None
  fill_mode: Optional[str] = None
  cval: Optional[float] = None
  order: Optional[int] = None
  rank: ClassVar[int] = 1
  num_uniforms: ClassVar[int] = 4

  def __post_init__(self):
    for name in ('width', 'height'):
      value = getattr(self, name)
      ok = (value is None and name == 'height') or (
          isinstance(value, (int, float)) and value >= 0) or (
              isinstance(value, tuple) and value and
              all(isinstance(v, (int, float)) and v >= 0 for v in value))
      _check(ok, f'translate {name} must be a non-negative number or a tuple of them, '
             f'got {value!r}')
    self._check_resampling()

  def matrix(self, u, height, width):
    height_spec = self.width if self.height is None else self.height
    return shift_matrix(_draw_shift(u[:2], self.width, width),
                        _draw_shift(u[2:], height_spec, height))


@_register('shear')
@dataclasses.dataclass(frozen=True)
class Shear(AffineOp):
  """Shear by uniform(-degrees, degrees) (Keras shear_range, in degrees)."""
  degrees: Any = 0.0
  fill_mode: Optional[str] = None
  cval: Optional[float] = None
  order: Optional[int] = None
  rank: ClassVar[int] = 2

  def __post_init__(self):
    _as_range(self.degrees, 'shear degrees')
    self._check_resampling()

  def matrix(self, u, height, width):
    return shear_matrix(_lerp(u[0], *_as_range(self.degrees, 'degrees')))


@_register('zoom')
@dataclasses.dataclass(frozen=True)
class Zoom(AffineOp):
  """Zoom like Keras' zoom_range: zx, zy drawn independently from [1 - z, 1 + z].

  `z` may be a pair (lo, hi). Values > 1 zoom out. keep_aspect=True draws one
  factor for both axes.
  """
  z: Any = 0.0
  keep_aspect: bool = False
  fill_mode: Optional[str] = None
  cval: Optional[float] = None
  order: Optional[int] = None
  rank: ClassVar[int] = 3
  num_uniforms: ClassVar[int] = 2

  def __post_init__(self):
    lo, _ = _as_range(self.z, 'zoom', center=1.0)
    _check(lo > 0, f'zoom factors must stay positive, got {self.z!r}')
    self._check_resampling()

  def matrix(self, u, height, width):
    lo, hi = _as_range(self.z, 'zoom', center=1.0)
    zx, zy = _lerp(u[0], lo, hi), _lerp(u[1], lo, hi)
    if self.keep_aspect:
      zy = zx
    return zoom_matrix(zx, zy)


@dataclasses.dataclass(frozen=True)
class _AffineStage:
  """All affine ops of a spec as one matrix and one resampling per image."""
  ops: Tuple[AffineOp, ...]
  fill_mode: str = 'nearest'
  cval: float = 0.0
  order: int = 1

  def uniforms_for(self, image_shape) -> int:
    return sum(op.num_uniforms for op in self.ops)

  def matrix(self, u, height: int, width: int):
    """The drawn [3, 3] matrix (before centring): Keras' rotation @ shift @ shear @ zoom."""
    starts = np.cumsum([0] + [op.num_uniforms for op in self.ops])
    matrix = jnp.eye(3)
    # Keras' product order whatever the order in the spec; the stable sort
    # keeps repeated ops of one kind in spec order.
    indexed = sorted(enumerate(self.ops), key=lambda item: item[1].rank)
    for index, op in indexed:
      matrix = matrix @ op.matrix(u[starts[index]:starts[index + 1]], height, width)
    return matrix

  def apply(self, u, image):
    height, width = image.shape[:2]
    matrix = self.matrix(u, height, width)
    return affine_sample(image, centered(matrix, height, width), order=self.order,
                         fill_mode=self.fill_mode, cval=self.cval)


@_register('flip_lr')
@dataclasses.dataclass(frozen=True)
class FlipLR(Op):
  """Mirror left-right with probability p (Keras horizontal_flip).

  alternate=True is airbench's derandomized flip: a fixed pseudo-random half
  of the examples is flipped in even epochs and the other half in odd ones,
  so every image is seen both ways in any two consecutive epochs. It needs
  the example ids and the epoch (Pipeline.train's example_ids, epoch).
  """
  p: float = 0.5
  alternate: bool = False

  def __post_init__(self):
    _probability(self.p, self.name)
    _check(isinstance(self.alternate, bool),
           f'flip_lr: alternate must be True or False, got {self.alternate!r}')

  def derandomize(self, u, example_ids, epoch):
    """u [B, 1] -> 0 (flip) or 1 (keep) per example, from its id and the epoch."""
    if not self.alternate:
      return u
    if example_ids is None or epoch is None:
      raise UserError('flip_lr(alternate=True) needs the example ids and the epoch; this '
                      'training loop does not pass them to Pipeline.train. Use flip_lr.')
    flip = (_hash_bit(example_ids) ^ (jnp.asarray(epoch, jnp.uint32) & 1)).astype(jnp.float32)
    return jnp.broadcast_to(1.0 - flip[:, None], u.shape)

  def apply(self, u, image):
    return jnp.where(u[0] < self.p, image[:, ::-1], image)


def _hash_bit(ids):
  """One pseudo-random bit per integer id (a 32-bit integer mix, lowbias32)."""
  x = jnp.asarray(ids).astype(jnp.uint32)
  x ^= x >> 16
  x *= jnp.uint32(0x7feb352d)
  x ^= x >> 15
  x *= jnp.uint32(0x846ca68b)
  x ^= x >> 16
  return x & 1


@_register('flip_ud')
@dataclasses.dataclass(frozen=True)
class FlipUD(Op):
  """Mirror top-bottom with probability p (Keras vertical_flip)."""
  p: float = 0.5

  def __post_init__(self):
    _probability(self.p, self.name)

  def apply(self, u, image):
    return jnp.where(u[0] < self.p, image[::-1], image)


@_register('pad_crop')
@dataclasses.dataclass(frozen=True)
class PadCrop(Op):
  """Pad by `pad` pixels, then crop a random window of the original size.

  The crop offset is uniform over the (2 pad + 1)^2 positions. fill_mode
  'reflect' repeats the edge pixel (d c b a | a b c d, np.pad 'symmetric');
  'mirror' does not (np.pad / torch 'reflect', what airbench uses);
  'constant' pads with cval; 'nearest' and 'wrap' as np.pad 'edge' / 'wrap'.
  """
  pad: int = 4
  fill_mode: str = 'reflect'
  cval: float = 0.0

  def __post_init__(self):
    _check(isinstance(self.pad, int) and self.pad >= 0,
           f'pad_crop: pad must be a non-negative int, got {self.pad!r}')
    _check(self.fill_mode in FILL_MODES,
           f'pad_crop: fill_mode must be one of {", ".join(FILL_MODES)}, got {self.fill_mode!r}')

  num_uniforms: ClassVar[int] = 2

  def apply(self, u, image):
    height, width = image.shape[:2]
    dy, dx = _randint(u[0], -self.pad, self.pad), _randint(u[1], -self.pad, self.pad)
    rows, cols = jnp.arange(height) + dy, jnp.arange(width) + dx
    out = image[_fix_index(rows, height, self.fill_mode)[:, None],
                _fix_index(cols, width, self.fill_mode)[None, :]]
    if self.fill_mode == 'constant':
      inside = (((rows >= 0) & (rows < height))[:, None] & ((cols >= 0) & (cols < width))[None, :])
      out = jnp.where(inside[..., None], out, jnp.asarray(self.cval, out.dtype))
    return out


@_register('elastic')
@dataclasses.dataclass(frozen=True)
class Elastic(Op):
  """Elastic distortion (Simard et al. 2003), as seed 003 did it with scipy.

  alpha: displacement scale in pixels, or a pair (lo, hi) drawn per image.
  sigma: Gaussian smoothing of the uniform(-1, 1) fields, in pixels.
  filter_mode: boundary of the Gaussian filter (scipy's default 'reflect';
    the widely copied Simard gist uses 'constant').
  fill_mode: boundary of the resampling (seed 003: 'reflect').
  """
  alpha: Any = 34.0
  sigma: float = 4.0
  filter_mode: str = 'reflect'
  fill_mode: str = 'reflect'
  order: int = 1

  def __post_init__(self):
    if isinstance(self.alpha, tuple):
      _as_range(self.alpha, 'elastic alpha')
    else:
      _check(isinstance(self.alpha, (int, float)) and self.alpha >= 0,
             f'elastic: alpha must be >= 0 or a pair (lo, hi), got {self.alpha!r}')
    _check(isinstance(self.sigma, (int, float)) and self.sigma > 0,
           f'elastic: sigma must be > 0, got {self.sigma!r}')
    for name in ('filter_mode', 'fill_mode'):
      _check(getattr(self, name) in FILL_MODES,
             f'elastic: {name} must be one of {", ".join(FILL_MODES)}, got {getattr(self, name)!r}')
    _check(self.order in (0, 1), f'elastic: order must be 0 or 1, got {self.order!r}')

  def uniforms_for(self, image_shape) -> int:
    return 1 + 2 * image_shape[0] * image_shape[1]

  def draw_alpha(self, u0):
    """The image's alpha: uniform in [lo, hi) for a pair, else the number itself."""
    if isinstance(self.alpha, tuple):
      return _lerp(u0, *_as_range(self.alpha, 'elastic alpha'))
    return jnp.asarray(float(self.alpha), jnp.float32)

  def apply(self, u, image):
    noise = 2.0 * u[1:].reshape((2,) + image.shape[:2]) - 1.0
    alpha = self.draw_alpha(u[0])
    return elastic_warp(image, noise, alpha, self.sigma, filter_mode=self.filter_mode,
                        fill_mode=self.fill_mode, order=self.order)
