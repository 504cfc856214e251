"""Tests of the normalization ops (cnnlab/augment/normalization.py) against Keras.

Samplewise and featurewise centering and std, ZCA; fitted through
Pipeline.fit in chunks of pipeline.FIT_CHUNK images.
"""
import jax
import numpy as np
import pytest

from cnnlab import augment
from cnnlab.augment import pipeline as pipeline_lib
from cnnlab.core.errors import UserError
from conftest import random_uint8_images as _images


def test_samplewise_matches_keras_formula():
  images = _images((3, 5, 5, 3), seed=11)
  x = images / np.float32(255)
  pipeline = augment.create_pipeline('samplewise_center|samplewise_std')
  centered = x - x.mean(axis=(1, 2, 3), keepdims=True)
  expected = centered / (centered.std(axis=(1, 2, 3), keepdims=True) + 1e-6)
  np.testing.assert_allclose(pipeline.eval(images, {}), expected, atol=1e-5)
  np.testing.assert_allclose(pipeline.train(jax.random.key(0), images, {}), expected, atol=1e-5)


def test_featurewise_fit_matches_numpy(monkeypatch):
  monkeypatch.setattr(pipeline_lib, 'FIT_CHUNK', 7)  # several chunks
  images = _images((20, 4, 4, 3), seed=12)
  x = images.astype(np.float64) / 255
  pipeline = augment.create_pipeline('flip_lr|featurewise_center|featurewise_std')
  stats = pipeline.fit(images)
  mean = x.mean(axis=(0, 1, 2))
  std = (x - mean).std(axis=(0, 1, 2))
  np.testing.assert_allclose(stats['featurewise_center']['mean'].ravel(), mean, rtol=1e-6)
  np.testing.assert_allclose(stats['featurewise_std']['std'].ravel(), std, rtol=1e-5)
  expected = (x - mean) / (std + 1e-6)
  np.testing.assert_allclose(pipeline.eval(images, stats), expected, atol=1e-5)
  template = pipeline.init_stats((4, 4, 3))
  assert jax.tree.structure(template) == jax.tree.structure(stats)
  assert jax.tree.map(lambda a: (a.shape, a.dtype), template) == jax.tree.map(
      lambda a: (a.shape, a.dtype), stats)


@pytest.mark.parametrize('count', [60, 12])  # N > D (eigh of X^T X) and N <= D (SVD)
def test_zca_matches_keras_svd(count, monkeypatch):
  monkeypatch.setattr(pipeline_lib, 'FIT_CHUNK', 25)
  images = _images((count, 4, 4, 2), seed=13)
  pipeline = augment.create_pipeline('zca(epsilon=1e-3)')
  stats = pipeline.fit(images)
  # Keras' fit: per-channel centering, then the SVD of the flattened data.
  x = images.astype(np.float64) / 255
  x = x - x.mean(axis=(0, 1, 2))
  flat = x.reshape(count, -1)
  u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
  matrix = (u * (np.sqrt(count) / (s + 1e-3))) @ u.T
  np.testing.assert_allclose(stats['zca']['matrix'], matrix, atol=2e-4 * np.abs(matrix).max())
  white = np.asarray(pipeline.eval(images, stats)).reshape(count, -1)
  np.testing.assert_allclose(white, flat @ matrix, atol=2e-4 * np.abs(flat @ matrix).max())
  if count > 32:  # whitened: identity covariance
    np.testing.assert_allclose(white.T @ white / count, np.eye(32), atol=1e-2)
  assert jax.tree.map(np.shape, pipeline.init_stats((4, 4, 2))) == jax.tree.map(np.shape, stats)


def test_zca_refuses_huge_images():
  with pytest.raises(UserError, match='featurewise_center'):
    augment.create_pipeline('zca').init_stats((224, 224, 3))


def test_fitted_op_without_stats_is_an_error():
  pipeline = augment.create_pipeline('featurewise_center')
  with pytest.raises(UserError, match='fit'):
    pipeline.eval(_images(), {})
