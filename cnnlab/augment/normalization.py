"""The normalization ops: samplewise / featurewise center and std, ZCA.

Deterministic, last in a spec, applied in training and evaluation alike; the
featurewise ones and ZCA are fitted on the training split (Pipeline.fit).
"""
import dataclasses
from typing import Callable, ClassVar, Dict, Iterator

import jax.numpy as jnp
import numpy as np

from cnnlab.augment.ops import Op, _check, _register

# Keras' epsilon in samplewise/featurewise std normalization.
STD_EPSILON = 1e-6
# ZCA keeps a D x D matrix (D = H * W * C) in every checkpoint and multiplies
# every batch by it; beyond this many features (a 1 GiB matrix) it is refused.
ZCA_MAX_FEATURES = 16384


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
