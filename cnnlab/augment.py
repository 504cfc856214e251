"""On-device input transforms: an op registry, a mini-language and the Pipeline.

A config string picks the transforms (big_vision `pp` style):

  --config.augment='flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)'

Ops are separated by `|`; each is a name from `OPS`, optionally with Python
literal arguments, positional or keyword (`translate(0.1, 0.2)`,
`elastic(alpha=(8, 34), sigma=4)`, `pad_crop(4, fill_mode='constant')`).

The ops (`python -m cnnlab.augment_preview --list_ops` prints their arguments):
  geometric  flip_lr, flip_ud, translate, zoom, rotate, shear, pad_crop, elastic
  pixel      cutout, brightness, contrast, channel_shift
  normalize  samplewise_center, samplewise_std, featurewise_center,
             featurewise_std, zca

Everything runs inside the jitted train step, per example (vmapped). The
randomness is one uniform [0, 1) draw of shape [batch, n] from the step key,
which each op reads its share of (one threefry call per batch: a fold_in or
split per op would multiply compile time), so augmentation is deterministic
and resumable. The semantics follow Keras' `ImageDataGenerator` and its
`apply_affine_transform`:

* Images are scaled to float32 [0, 1] first (always; with an empty spec that is
  all that happens, in training and evaluation alike).
* The affine ops (`rotate`, `translate`, `shear`, `zoom`) are composed into ONE
  matrix in Keras' order (rotation @ shift @ shear @ zoom, about the image
  centre) and resampled ONCE per image, with scipy's `affine_transform`
  semantics: order 1 (bilinear) or 0, `fill_mode` nearest | reflect | constant
  | wrap | mirror and `cval`, exactly as scipy implements each mode (set them
  on any one of the ops: `rotate(8, fill_mode='constant', cval=0.5)`; `cval`
  is on the [0, 1] scale, where Keras' is in raw pixel units). Wherever they
  are written in the spec, they act at the position of the first of them.
* `elastic` is Simard et al. (2003): two uniform(-1, 1) fields smoothed by a
  Gaussian of `sigma` (scipy `gaussian_filter`, applied here as two small
  matrix products), times `alpha`, bilinear resampling with mode reflect.
* Normalization ops (samplewise / featurewise center and std, ZCA) come last,
  as in Keras, and run in evaluation too. The featurewise ones are fitted once
  on the training split (`Pipeline.fit`, Keras' `datagen.fit`); train.py keeps
  the statistics in the checkpoint.

Deviations from Keras, on purpose: `translate(width, height)` shifts columns by
the width range and rows by the height range, as Keras documents; Keras'
legacy implementation swaps the two (visible only when the ranges differ) and
centres non-square images with the height on both axes. Fitted statistics are
computed on what the op will see at that position of the pipeline (after the
scaling and any earlier normalization op), where Keras fits on the raw images.
"""
import ast
import dataclasses
import functools
import inspect
from typing import Any, Callable, ClassVar, Dict, Iterator, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import ndimage as jnd

from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

OPS = Registry('augmentation op', 'augment')

# scipy.ndimage boundary modes (their names and their meaning, see _sample).
FILL_MODES = ('nearest', 'reflect', 'constant', 'wrap', 'mirror')
# Keras' epsilon in samplewise/featurewise std normalization.
STD_EPSILON = 1e-6
# Images per chunk when fitting statistics on the host (bounds memory).
FIT_CHUNK = 2048
# ZCA keeps a D x D matrix (D = H * W * C) in every checkpoint and multiplies
# every batch by it; beyond this many features (a 1 GiB matrix) it is refused.
ZCA_MAX_FEATURES = 16384


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


# ---- resampling -------------------------------------------------------------
def _fix_index(index, size: int, mode: str, xp=jnp):
  """Integer index -> index inside [0, size) for a boundary mode (np.pad style).

  reflect: d c b a | a b c d | d c b a    mirror: d c b | a b c d | c b a
  wrap:    a b c d | a b c d | a b c d    nearest / constant: clamped (the
  caller masks constant).
  """
  if mode == 'reflect':
    index = xp.mod(index, 2 * size)
    return xp.where(index >= size, 2 * size - 1 - index, index)
  if mode == 'mirror':
    if size == 1:
      return xp.zeros_like(index)
    index = xp.mod(index, 2 * size - 2)
    return xp.where(index >= size, 2 * size - 2 - index, index)
  if mode == 'wrap':
    return xp.mod(index, size)
  return xp.clip(index, 0, size - 1)


def _scipy_wrap(coord, size: int):
  """scipy.ndimage's 'wrap' for interpolation: period size - 1, ends overlap.

  This is scipy's (and so Keras') behaviour, not the plain periodic
  'grid-wrap' that jax's map_coordinates implements under the name 'wrap'.
  """
  if size <= 1:
    return jnp.zeros_like(coord)
  period = size - 1
  below = coord + period * (jnp.floor(-coord / period) + 1)
  above = coord - period * jnp.floor(coord / period)
  return jnp.where(coord < 0, below, jnp.where(coord > period, above, coord))


def _sample(image, rows, cols, *, order: int = 1, mode: str = 'nearest', cval: float = 0.0):
  """image [H, W, C] at float coordinates rows, cols [h, w] -> [h, w, C].

  Same result as scipy.ndimage.map_coordinates(image[..., c], [rows, cols],
  order, mode, cval) for every channel. jax's map_coordinates agrees with
  scipy for nearest, reflect and mirror; its 'constant' and 'wrap' are
  scipy's 'grid-constant' and 'grid-wrap', so those two are mapped here first:
  scipy 'constant' gives cval for any point outside [0, size - 1] (no blending
  with cval), scipy 'wrap' wraps the coordinate with period size - 1.
  """
  height, width = image.shape[:2]
  inside = None
  jax_mode = mode
  if mode == 'wrap':
    rows, cols = _scipy_wrap(rows, height), _scipy_wrap(cols, width)
    jax_mode = 'nearest'
  elif mode == 'constant':
    # 1e-3 px of slack: float32 round-off must not blank the border pixels
    # of, say, an exact 90-degree rotation (scipy computes in float64).
    tol = 1e-3
    inside = ((rows >= -tol) & (rows <= height - 1 + tol) &
              (cols >= -tol) & (cols <= width - 1 + tol))
    rows, cols = jnp.clip(rows, 0, height - 1), jnp.clip(cols, 0, width - 1)
    jax_mode = 'nearest'
  if order == 0:
    # scipy rounds half up; jax would round half away from zero.
    rows, cols = jnp.floor(rows + 0.5), jnp.floor(cols + 0.5)

  def one_channel(channel):
    return jnd.map_coordinates(channel, [rows, cols], order=order, mode=jax_mode)

  out = jax.vmap(one_channel, in_axes=2, out_axes=2)(image)
  if inside is not None:
    out = jnp.where(inside[..., None], out, jnp.asarray(cval, out.dtype))
  return out


# ---- affine transforms (Keras apply_affine_transform) ------------------------
# Matrices act on homogeneous (row, col, 1) output coordinates and give the
# input coordinates to read, as scipy's affine_transform does. Keras builds
# them in (x, y) = (col, row) order and swaps; these are the swapped forms.
def rotation_matrix(theta_deg):
  """Counter-clockwise rotation by theta degrees (Keras `theta`, np.rot90 for 90)."""
  t = jnp.deg2rad(theta_deg)
  c, s = jnp.cos(t), jnp.sin(t)
  return jnp.array([[c, s, 0.], [-s, c, 0.], [0., 0., 1.]])


def shift_matrix(tx, ty):
  """Read from (row + ty, col + tx): Keras' `tx` is columns, `ty` rows."""
  return jnp.array([[1., 0., ty], [0., 1., tx], [0., 0., 1.]])


def shear_matrix(shear_deg):
  """Keras' shear: x' = x - sin(s) y, y' = cos(s) y with (x, y) = (col, row)."""
  s = jnp.deg2rad(shear_deg)
  return jnp.array([[jnp.cos(s), 0., 0.], [-jnp.sin(s), 1., 0.], [0., 0., 1.]])


def zoom_matrix(zx, zy):
  """Keras' zoom: zx scales columns, zy rows; > 1 zooms out (reads further)."""
  return jnp.array([[zy, 0., 0.], [0., zx, 0.], [0., 0., 1.]])


def centered(matrix, height: int, width: int):
  """The matrix applied about the image centre instead of pixel (0, 0)."""
  cy, cx = (height - 1) / 2, (width - 1) / 2
  offset = jnp.array([[1., 0., cy], [0., 1., cx], [0., 0., 1.]])
  reset = jnp.array([[1., 0., -cy], [0., 1., -cx], [0., 0., 1.]])
  return offset @ matrix @ reset


@functools.partial(jax.jit, static_argnames=('order', 'fill_mode', 'cval'))
def affine_sample(image, matrix, *, order: int = 1, fill_mode: str = 'nearest',
                  cval: float = 0.0):
  """scipy.ndimage.affine_transform of every channel of image [H, W, C].

  Args:
    image: float [H, W, C].
    matrix: [3, 3] homogeneous map from output (row, col) to input (row, col).
    order: 0 (nearest) or 1 (bilinear).
    fill_mode: one of FILL_MODES, with scipy's meaning.
    cval: the fill value of 'constant'.

  Returns:
    float [H, W, C].
  """
  height, width = image.shape[:2]
  rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                            jnp.arange(width, dtype=jnp.float32), indexing='ij')
  matrix = jnp.asarray(matrix, jnp.float32)
  in_rows = matrix[0, 0] * rows + matrix[0, 1] * cols + matrix[0, 2]
  in_cols = matrix[1, 0] * rows + matrix[1, 1] * cols + matrix[1, 2]
  return _sample(image, in_rows, in_cols, order=order, mode=fill_mode, cval=cval)


@functools.partial(jax.jit, static_argnames=('fill_mode', 'cval', 'order'))
def apply_affine_transform(image, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, *,
                           fill_mode: str = 'nearest', cval: float = 0.0, order: int = 1):
  """Keras' `apply_affine_transform` (channels last) in JAX, jittable.

  Same parameters and, on square images, the same result as
  `keras.src.legacy.preprocessing.image.apply_affine_transform(x, theta, tx,
  ty, shear, zx, zy, row_axis=0, col_axis=1, channel_axis=2, ...)`: theta and
  shear in degrees, tx/ty in pixels (positive values read further right/down,
  so the content moves left/up), zx/zy > 1 zoom out.
  """
  height, width = image.shape[:2]
  matrix = (rotation_matrix(theta) @ shift_matrix(tx, ty) @ shear_matrix(shear) @
            zoom_matrix(zx, zy))
  return affine_sample(image, centered(matrix, height, width), order=order,
                       fill_mode=fill_mode, cval=cval)


# ---- elastic distortion (Simard et al. 2003) --------------------------------
@functools.lru_cache(maxsize=None)
def gaussian_matrix(size: int, sigma: float, mode: str = 'reflect',
                    truncate: float = 4.0) -> np.ndarray:
  """[size, size] M with M @ v == scipy.ndimage.gaussian_filter1d(v, sigma, mode=mode).

  A separable Gaussian on small images is two small matrix products: fast on
  any accelerator and exact for every boundary mode ('constant' uses cval 0).
  """
  radius = int(truncate * sigma + 0.5)
  taps = np.arange(-radius, radius + 1)
  kernel = np.exp(-0.5 * taps.astype(np.float64) ** 2 / sigma ** 2)
  kernel /= kernel.sum()
  matrix = np.zeros((size, size))
  for i in range(size):
    index = i + taps
    keep = (index >= 0) & (index < size) if mode == 'constant' else np.ones_like(index, bool)
    np.add.at(matrix[i], _fix_index(index[keep], size, mode, np), kernel[keep])
  return matrix.astype(np.float32)


def elastic_displacement(noise, alpha, sigma: float, filter_mode: str = 'reflect'):
  """noise [2, H, W] uniform(-1, 1) -> (row, col) displacements [2, H, W]."""
  _, height, width = noise.shape
  g_rows = jnp.asarray(gaussian_matrix(height, float(sigma), filter_mode))
  g_cols = jnp.asarray(gaussian_matrix(width, float(sigma), filter_mode))
  return alpha * jnp.einsum('ij,cjk,lk->cil', g_rows, noise, g_cols)


@functools.partial(jax.jit, static_argnames=('sigma', 'filter_mode', 'fill_mode', 'order'))
def elastic_warp(image, noise, alpha, sigma: float, *, filter_mode: str = 'reflect',
                 fill_mode: str = 'reflect', order: int = 1):
  """Simard's elastic distortion of image [H, W, C] driven by noise [2, H, W].

  Equals scipy: dy, dx = alpha * gaussian_filter(noise[i], sigma, mode=filter_mode);
  map_coordinates(image[..., c], [row + dy, col + dx], order=1, mode='reflect').
  One field for all channels, so colours stay aligned.
  """
  height, width = image.shape[:2]
  disp = elastic_displacement(noise, alpha, sigma, filter_mode)
  rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                            jnp.arange(width, dtype=jnp.float32), indexing='ij')
  return _sample(image, rows + disp[0], cols + disp[1], order=order, mode=fill_mode)


# ---- ops --------------------------------------------------------------------
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


def _probability(p, name):
  _check(isinstance(p, (int, float)) and 0 <= p <= 1, f'{name}: p must be in [0, 1], got {p!r}')


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


# ---- normalization ops --------------------------------------------------------
class NormalizeOp(Op):
  """Deterministic and applied in evaluation too; `fitted` ones learn stats."""
  kind: ClassVar[str] = 'normalize'
  fitted: ClassVar[bool] = False

  def normalize(self, x, stats):
    """x [B, H, W, C] float -> same shape."""
    raise NotImplementedError

  def init_stats(self, image_shape) -> Dict[str, np.ndarray]:
    return {}

  def fit(self, chunks: Callable[[], Iterator[np.ndarray]]) -> Dict[str, np.ndarray]:
    """Statistics from chunks(): an iterator over float images [n, H, W, C]."""
    return {}


@_register('samplewise_center')
@dataclasses.dataclass(frozen=True)
class SamplewiseCenter(NormalizeOp):
  """Subtract each image's mean over all pixels and channels (Keras samplewise_center)."""

  def normalize(self, x, stats):
    return x - jnp.mean(x, axis=(1, 2, 3), keepdims=True)


@_register('samplewise_std')
@dataclasses.dataclass(frozen=True)
class SamplewiseStd(NormalizeOp):
  """Divide each image by its std + 1e-6 (Keras samplewise_std_normalization)."""

  def normalize(self, x, stats):
    return x / (jnp.std(x, axis=(1, 2, 3), keepdims=True) + STD_EPSILON)


def _channel_moments(chunks: Callable[[], Iterator[np.ndarray]]):
  """Per-channel mean and std over images and pixels (float64 sums, chunked)."""
  count, total, total_sq = 0, 0.0, 0.0
  for x in chunks():
    x = x.astype(np.float64)
    count += x.shape[0] * x.shape[1] * x.shape[2]
    total = total + x.sum(axis=(0, 1, 2))
    total_sq = total_sq + np.square(x).sum(axis=(0, 1, 2))
  _check(count > 0, 'cannot fit input statistics on zero images')
  mean = total / count
  return mean, np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))


@_register('featurewise_center')
@dataclasses.dataclass(frozen=True)
class FeaturewiseCenter(NormalizeOp):
  """Subtract the training set's per-channel mean (Keras featurewise_center)."""
  fitted: ClassVar[bool] = True

  def init_stats(self, image_shape):
    return {'mean': np.zeros((1, 1, image_shape[-1]), np.float32)}

  def fit(self, chunks):
    mean, _ = _channel_moments(chunks)
    return {'mean': mean.reshape(1, 1, -1).astype(np.float32)}

  def normalize(self, x, stats):
    return x - stats['mean']


@_register('featurewise_std')
@dataclasses.dataclass(frozen=True)
class FeaturewiseStd(NormalizeOp):
  """Divide by the training set's per-channel std + 1e-6 (Keras featurewise_std_normalization).

  Keras fits the std after centering; std does not depend on the mean, so it
  is the same whether or not featurewise_center comes first.
  """
  fitted: ClassVar[bool] = True

  def init_stats(self, image_shape):
    return {'std': np.zeros((1, 1, image_shape[-1]), np.float32)}

  def fit(self, chunks):
    _, std = _channel_moments(chunks)
    return {'std': std.reshape(1, 1, -1).astype(np.float32)}

  def normalize(self, x, stats):
    return x / (stats['std'] + STD_EPSILON)


@_register('zca')
@dataclasses.dataclass(frozen=True)
class ZCA(NormalizeOp):
  """ZCA whitening as Keras' zca_whitening (which implies featurewise_center).

  Fit: per-channel mean m; X = flattened (x - m) [N, D]; with the thin SVD
  X^T = U S V^T, W = U diag(sqrt(N) / (S + epsilon)) U^T, Keras' formula.
  For N > D, U and S come from eigh of the D x D matrix X^T X, accumulated
  chunk by chunk: the same W without holding X or paying for an SVD of a
  D x N matrix. For N <= D (U then has only N columns) it is Keras' SVD.
  Apply: (x - m).reshape(B, D) @ W. D = H * W * C (3072 for CIFAR: a 36 MiB
  matrix, kept in the checkpoint; the fit on 45,000 images takes a while).
  """
  epsilon: float = 1e-6
  fitted: ClassVar[bool] = True

  def __post_init__(self):
    _check(isinstance(self.epsilon, (int, float)) and self.epsilon >= 0,
           f'zca: epsilon must be >= 0, got {self.epsilon!r}')

  @staticmethod
  def _check_size(dim: int):
    _check(dim <= ZCA_MAX_FEATURES,
           f'zca on {dim:,} features (H * W * C) needs a {dim:,} x {dim:,} matrix; more than '
           f'ZCA_MAX_FEATURES={ZCA_MAX_FEATURES:,}. Use featurewise_center|featurewise_std '
           'or smaller images.')

  def init_stats(self, image_shape):
    dim = int(np.prod(image_shape))
    self._check_size(dim)
    return {'mean': np.zeros((1, 1, image_shape[-1]), np.float32),
            'matrix': np.zeros((dim, dim), np.float32)}

  def fit(self, chunks):
    dim = next(iter(chunks()))[0].size
    self._check_size(dim)  # before any work
    mean, _ = _channel_moments(chunks)
    mean32 = mean.astype(np.float32)

    def flats():
      for x in chunks():
        yield (x - mean32).reshape(x.shape[0], -1).astype(np.float32)

    count = sum(len(x) for x in chunks())
    if count <= dim:
      flat = np.concatenate(list(flats())).astype(np.float64)
      basis, singular, _ = np.linalg.svd(flat.T, full_matrices=False)
    else:
      gram = sum((f.T @ f).astype(np.float64) for f in flats())
      eigval, basis = np.linalg.eigh(gram)
      singular = np.sqrt(np.maximum(eigval, 0.0))
    matrix = (basis * (np.sqrt(count) / (singular + self.epsilon))) @ basis.T
    return {'mean': mean.reshape(1, 1, -1).astype(np.float32),
            'matrix': matrix.astype(np.float32)}

  def normalize(self, x, stats):
    flat = (x - stats['mean']).reshape(x.shape[0], -1)
    return (flat @ stats['matrix']).reshape(x.shape)


# ---- the pipeline -------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Pipeline:
  """A parsed augmentation spec; hashable so it can be bound statically.

  stages: per-example random transforms in order (an _AffineStage or a
    'random' op); normalizers: the trailing normalization ops.
  """
  spec: str = ''
  stages: Tuple[Any, ...] = ()
  normalizers: Tuple[NormalizeOp, ...] = ()

  def _fitted(self):
    return [op for op in self.normalizers if op.fitted]

  def init_stats(self, image_shape: Tuple[int, int, int]) -> Dict[str, Any]:
    """Zero stats with the structure fit() returns (a checkpoint restore template)."""
    return {op.name: op.init_stats(tuple(image_shape)) for op in self._fitted()}

  def fit(self, images: np.ndarray) -> Dict[str, Any]:
    """Fits the featurewise ops on uint8 images [N, H, W, C] (host, once).

    Each op is fitted on the images as it will see them: scaled to [0, 1] and
    passed through the normalization ops before it. {} if nothing is fitted.
    """
    if not self._fitted():
      return {}
    images = np.asarray(images)
    _check(images.ndim == 4, f'fit needs images [N, H, W, C], got shape {images.shape}')
    stats = {}
    for index, op in enumerate(self.normalizers):
      if not op.fitted:
        continue
      before = self.normalizers[:index]

      def chunks(before=before):
        for start in range(0, len(images), FIT_CHUNK):
          x = images[start:start + FIT_CHUNK].astype(np.float32) / 255.0
          for prior in before:
            x = np.asarray(prior.normalize(x, stats.get(prior.name)))
          yield x

      stats[op.name] = op.fit(chunks)
    return stats

  def _scale(self, images):
    return jnp.asarray(images).astype(jnp.float32) / 255.0

  def _normalize(self, x, stats):
    for op in self.normalizers:
      if op.fitted and op.name not in (stats or {}):
        raise UserError(f'augment op {op.name!r} needs statistics from Pipeline.fit(); '
                        f'got only {sorted(stats or {})}')
      x = op.normalize(x, (stats or {}).get(op.name))
    return x

  def uniforms_for(self, image_shape) -> int:
    """How many uniform numbers one image's random draw takes."""
    return sum(stage.uniforms_for(tuple(image_shape)) for stage in self.stages)

  def augment_one(self, u, image):
    """The random stages on one float image [H, W, C] in [0, 1].

    u: float32 [uniforms_for(image.shape)] uniform in [0, 1).
    """
    start = 0
    for stage in self.stages:
      size = stage.uniforms_for(image.shape)
      image = stage.apply(u[start:start + size], image)
      start += size
    return image

  def train(self, rng, images, stats, example_ids=None, epoch=None) -> jnp.ndarray:
    """Random transforms per example, then normalization; uint8 [B,H,W,C] -> float32.

    Args:
      rng: the step's key; every draw of the batch derives from it.
      images: uint8 [B, H, W, C].
      stats: what fit() returned (or its restored copy).
      example_ids: optional int [B], the examples' dataset indices, and
      epoch: optional int, for derandomized ops (flip_lr(alternate=True)).

    Returns:
      float32 [B, H, W, C]: in [0, 1] unless normalization ops follow.
    """
    x = self._scale(images)
    if self.stages:
      u = jax.random.uniform(rng, (x.shape[0], self.uniforms_for(x.shape[1:])), jnp.float32)
      start = 0
      for stage in self.stages:
        size = stage.uniforms_for(x.shape[1:])
        if hasattr(stage, 'derandomize'):
          u = u.at[:, start:start + size].set(
              stage.derandomize(u[:, start:start + size], example_ids, epoch))
        start += size
      x = jax.vmap(self.augment_one)(u, x)
    return self._normalize(x, stats)

  def eval(self, images, stats) -> jnp.ndarray:
    """The deterministic part: scaling and normalization; uint8 -> float32."""
    return self._normalize(self._scale(images), stats)


# ---- the mini-language ----------------------------------------------------------
def _split_top_level(spec: str) -> Iterator[str]:
  """Splits on '|' outside brackets and quotes."""
  depth, quote, start = 0, None, 0
  for i, ch in enumerate(spec):
    if quote:
      quote = None if ch == quote else quote
    elif ch in '\'"':
      quote = ch
    elif ch in '([{':
      depth += 1
    elif ch in ')]}':
      depth -= 1
    elif ch == '|' and depth == 0:
      yield spec[start:i]
      start = i + 1
  yield spec[start:]


def _tuples(value):
  """Lists become tuples (hashable ops), recursively."""
  if isinstance(value, (list, tuple)):
    return tuple(_tuples(v) for v in value)
  return value


def _known_ops() -> str:
  return f'Known augmentation ops: {", ".join(OPS.names())}.'


def _usage(cls) -> str:
  """'rotate(degrees=0.0, fill_mode=None, ...)' from the op's fields."""
  params = inspect.signature(cls).parameters.values()
  return f'{cls.name}({", ".join(f"{p.name}={p.default!r}" for p in params)})'


def describe_ops() -> str:
  """One line per op: its usage and the first line of its docstring."""
  lines = []
  for name in OPS.names():
    cls = OPS.get(name)
    summary = (cls.__doc__ or '').strip().splitlines()[0]
    lines.append(f'{_usage(cls)}\n    {cls.kind}: {summary}')
  return '\n'.join(lines)


def parse_op(text: str) -> Op:
  """'name' or 'name(literal args)' -> an op instance; UserError on any problem."""
  item = text.strip()
  where = f'in --config.augment item {item!r}'
  try:
    node = ast.parse(item, mode='eval').body
  except SyntaxError as e:
    raise UserError(f'Bad syntax {where}: {e.msg}. Write name or name(args), '
                    f'e.g. rotate(8). {_known_ops()}') from None
  if isinstance(node, ast.Name):
    name, args, kwargs = node.id, [], {}
  elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
    name = node.func.id
    try:
      args = [_tuples(ast.literal_eval(a)) for a in node.args]
      kwargs = {k.arg: _tuples(ast.literal_eval(k.value)) for k in node.keywords}
    except ValueError:
      raise UserError(f'Bad argument {where}: arguments must be literals '
                      '(numbers, strings, tuples, True/False/None).') from None
    if any(k is None for k in kwargs):
      raise UserError(f'Bad argument {where}: **kwargs are not supported.')
  else:
    raise UserError(f'Bad syntax {where}: write name or name(args), e.g. rotate(8). '
                    f'{_known_ops()}')
  cls = OPS.get(name)
  try:
    return cls(*args, **kwargs)
  except TypeError as e:
    message = str(e).replace(f'{cls.__name__}.__init__()', name)
    raise UserError(f'Bad arguments {where}: {message}. Usage: {_usage(cls)}') from None
  except UserError as e:
    raise UserError(f'Bad arguments {where}: {e}. Usage: {_usage(cls)}') from None


def _affine_stage(ops: Sequence[AffineOp]) -> _AffineStage:
  """Fuses the affine ops; their resampling options must agree."""
  settings = {'fill_mode': 'nearest', 'cval': 0.0, 'order': 1}
  chosen = {}
  for op in ops:
    for key, value in op.resampling().items():
      if value is None:
        continue
      if key in chosen and chosen[key][1] != value:
        raise UserError(
            f'--config.augment: {chosen[key][0]} sets {key}={chosen[key][1]!r} but {op.name} '
            f'sets {key}={value!r}; the affine ops share one resampling, so set it once.')
      chosen[key] = (op.name, value)
  settings.update({key: value for key, (_, value) in chosen.items()})
  return _AffineStage(tuple(ops), **settings)


def create_pipeline(spec: str) -> Pipeline:
  """Parses an augmentation spec, e.g. 'flip_lr|translate(0.1)'; '' = scaling only.

  Raises:
    UserError: bad syntax, an unknown op (the message lists the known ones),
      bad arguments, a normalization op before a random one, or a fitted op
      written twice.
  """
  items = [item for item in _split_top_level(spec or '')]
  if len(items) == 1 and not items[0].strip():
    return Pipeline('')
  ops = []
  for item in items:
    if not item.strip():
      raise UserError(f'Empty item in --config.augment={spec!r} (a stray "|"?). {_known_ops()}')
    ops.append(parse_op(item))
  stages, normalizers, affine, affine_at = [], [], [], None
  for op in ops:
    if op.kind == 'normalize':
      if op.fitted and any(n.name == op.name for n in normalizers):
        raise UserError(f'--config.augment: {op.name} appears twice.')
      normalizers.append(op)
      continue
    if normalizers:
      raise UserError(
          f'--config.augment: {op.name} comes after normalization op {normalizers[-1].name}; '
          'normalization ops run last (in training and evaluation), so write them at the end.')
    if op.kind == 'affine':
      if affine_at is None:
        affine_at = len(stages)
        stages.append(None)  # the fused stage goes where the first affine op was
      affine.append(op)
    else:
      stages.append(op)
  if affine:
    stages[affine_at] = _affine_stage(affine)
  return Pipeline(spec, tuple(stages), tuple(normalizers))
