"""Known-answer tests of cnnlab/augment/resampling.py against scipy.ndimage and Keras.

scipy's boundary modes and interpolation, Keras' affine matrix and
apply_affine_transform, the Gaussian filter matrix and the elastic warp.
Small images only.
"""
import functools

import jax
import numpy as np
import pytest
import scipy.ndimage as ndi

from cnnlab import augment
from conftest import augment_train as _train


def _keras_matrix(theta, tx, ty, shear, zx, zy, size):
  """Keras' apply_affine_transform matrix (keras/src/legacy/preprocessing/image.py).

  Square images only: Keras centres both axes on the height.
  """
  t, s = np.deg2rad(theta), np.deg2rad(shear)
  rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
  shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
  shear_m = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
  zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
  matrix = rotation @ shift @ shear_m @ zoom
  o = size / 2 - 0.5
  offset = np.array([[1, 0, o], [0, 1, o], [0, 0, 1]])
  reset = np.array([[1, 0, -o], [0, 1, -o], [0, 0, 1]])
  matrix = offset @ matrix @ reset
  matrix[:, [0, 1]] = matrix[:, [1, 0]]
  matrix[[0, 1]] = matrix[[1, 0]]
  return matrix


# ---- affine ----------------------------------------------------------------------
@pytest.mark.parametrize('size', [8, 9])
def test_rotate_90_nearest_is_rot90(size):
  # Keras' positive theta turns counter-clockwise, like np.rot90.
  x = np.random.RandomState(1).rand(size, size, 2).astype(np.float32)
  for fill in ('nearest', 'constant'):
    out = augment.apply_affine_transform(x, theta=90, order=0, fill_mode=fill)
    np.testing.assert_array_equal(out, np.rot90(x))
  out = augment.apply_affine_transform(x, theta=90, order=1)
  np.testing.assert_allclose(out, np.rot90(x), atol=1e-5)
  # The random op with a degenerate range goes the same way.
  pipeline_out = _train('rotate((90, 90), order=0)', (x[None] * 255).astype(np.uint8))
  np.testing.assert_allclose(pipeline_out[0], np.rot90((x * 255).astype(np.uint8) / 255.0),
                             rtol=1e-6)


def test_integer_shift_is_roll_plus_fill():
  x = np.random.RandomState(2).rand(6, 9, 3).astype(np.float32)
  out = np.asarray(augment.apply_affine_transform(x, tx=2, ty=-3, fill_mode='constant', cval=0.5))
  # tx=2 reads two columns to the right: content moves left; ty=-3 moves it down.
  expected = np.roll(np.roll(x, -2, axis=1), 3, axis=0)
  expected[:, -2:] = 0.5
  expected[:3] = 0.5
  np.testing.assert_allclose(out, expected, atol=1e-6)
  out = np.asarray(augment.apply_affine_transform(x, tx=2, fill_mode='wrap'))
  assert np.abs(out - np.roll(x, -2, axis=1)).max() > 0.1  # scipy 'wrap' is not np.roll...
  np.testing.assert_allclose(out[:, :-2], x[:, 2:], atol=1e-6)  # ...inside it is a shift


@pytest.mark.parametrize('fill_mode', ['nearest', 'reflect', 'constant', 'wrap', 'mirror'])
def test_affine_matches_keras_matrix_in_scipy(fill_mode):
  size = 12
  x = np.random.RandomState(4).rand(size, size, 2).astype(np.float32)
  params = dict(theta=17.0, tx=1.3, ty=-2.2, shear=9.0, zx=0.9, zy=1.15)
  matrix = _keras_matrix(size=size, **params)
  expected = np.stack([
      ndi.affine_transform(x[..., c].astype(np.float64), matrix[:2, :2], matrix[:2, 2],
                           order=1, mode=fill_mode, cval=0.3) for c in range(2)], -1)
  out = augment.apply_affine_transform(x, **params, fill_mode=fill_mode, cval=0.3)
  np.testing.assert_allclose(out, expected, atol=1e-4)


@pytest.mark.parametrize('mode', ['nearest', 'reflect', 'constant', 'wrap', 'mirror'])
@pytest.mark.parametrize('order', [0, 1])
def test_sampling_modes_match_scipy(mode, order):
  rng = np.random.RandomState(5)
  image = rng.rand(5, 7, 1).astype(np.float32)
  rows = rng.uniform(-6, 11, (9, 9)).astype(np.float32)
  cols = rng.uniform(-6, 13, (9, 9)).astype(np.float32)
  expected = ndi.map_coordinates(image[..., 0].astype(np.float64), [rows, cols], order=order,
                                 mode=mode, cval=-1.0)
  sample = jax.jit(functools.partial(augment._sample, order=order, mode=mode, cval=-1.0))
  out = sample(image, rows, cols)
  np.testing.assert_allclose(out[..., 0], expected, atol=1e-5)


# ---- elastic ---------------------------------------------------------------------
@pytest.mark.parametrize('mode', ['reflect', 'constant', 'nearest', 'mirror', 'wrap'])
def test_gaussian_matrix_is_gaussian_filter1d(mode):
  v = np.random.RandomState(6).rand(6, 5)
  for sigma in (0.7, 4.0):  # 4.0: the kernel is wider than the image
    g = augment.gaussian_matrix(6, sigma, mode)
    np.testing.assert_allclose(g @ v, ndi.gaussian_filter1d(v, sigma, axis=0, mode=mode),
                               atol=1e-6)


@pytest.mark.parametrize('filter_mode', ['reflect', 'constant'])
def test_elastic_matches_scipy_reference(filter_mode):
  rng = np.random.RandomState(7)
  image = rng.rand(16, 14, 2).astype(np.float32)
  noise = rng.uniform(-1, 1, (2, 16, 14)).astype(np.float32)
  alpha, sigma = 6.0, 2.0
  # Seed 003 / Simard: smooth uniform fields, scale, resample bilinear with reflect.
  dy = ndi.gaussian_filter(noise[0].astype(np.float64), sigma, mode=filter_mode) * alpha
  dx = ndi.gaussian_filter(noise[1].astype(np.float64), sigma, mode=filter_mode) * alpha
  r, c = np.meshgrid(np.arange(16), np.arange(14), indexing='ij')
  expected = np.stack([ndi.map_coordinates(image[..., k].astype(np.float64), [r + dy, c + dx],
                                           order=1, mode='reflect') for k in range(2)], -1)
  out = augment.elastic_warp(image, noise, alpha, sigma, filter_mode=filter_mode)
  np.testing.assert_allclose(out, expected, atol=1e-4)
