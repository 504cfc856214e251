"""Resampling: scipy.ndimage's boundary modes and interpolation in JAX, the affine
matrices Keras composes, and Simard's elastic displacement field.

Pure jittable functions of one image [H, W, C] (no ops, no randomness), each
equal to a scipy.ndimage / Keras function: `_sample` (map_coordinates),
`affine_sample` (affine_transform), `apply_affine_transform` (Keras'),
`gaussian_matrix` (gaussian_filter1d), `elastic_warp` (Simard et al. 2003).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import ndimage as jnd

# scipy.ndimage boundary modes (their names and their meaning, see _sample).
FILL_MODES = ('nearest', 'reflect', 'constant', 'wrap', 'mirror')


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
