"""The Pipeline (fit, train, eval; hashable, a static jit argument) and
`create_pipeline`, which builds one from a spec: the affine ops fused into one
stage, the normalization ops last.
"""
import dataclasses
from typing import Any, Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from cnnlab.augment.geometric import AffineOp, _AffineStage
from cnnlab.augment.normalization import NormalizeOp
from cnnlab.augment.ops import _check
from cnnlab.augment.spec import _known_ops, _split_top_level, parse_op
from cnnlab.core.errors import UserError

# Images per chunk when fitting statistics on the host (bounds memory).
FIT_CHUNK = 2048


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


# ---- building a pipeline from a spec -------------------------------------------
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
