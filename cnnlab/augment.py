"""Input transforms applied inside the jitted train step (placeholder: scaling only).

The full op registry and mini-language are built in the augmentation issue;
this module already has the interface train.py uses.
"""
import dataclasses
from typing import Any, Dict, Tuple

import jax.numpy as jnp
import numpy as np

from cnnlab.errors import UserError


@dataclasses.dataclass(frozen=True)
class Pipeline:
  """A parsed augmentation spec; hashable so it can be bound statically."""
  spec: str = ''

  def init_stats(self, image_shape: Tuple[int, int, int]) -> Dict[str, Any]:
    del image_shape
    return {}

  def fit(self, images: np.ndarray) -> Dict[str, Any]:
    del images
    return {}

  def train(self, rng, images, stats):
    del rng
    return self.eval(images, stats)

  def eval(self, images, stats):
    del stats
    return images.astype(jnp.float32) / 255.0


def create_pipeline(spec: str) -> Pipeline:
  if spec.strip():
    raise UserError(f'augmentation {spec!r} is not supported yet; use --config.augment=""')
  return Pipeline(spec)
