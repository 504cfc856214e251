"""Test-time augmentation: combine the model's predictions over fixed views.

  python -m cnnlab.evaluate --workdir=runs/vgg --tta=flip
  python -m cnnlab.evaluate --workdir=runs/fast --tta=airbench
  python -m cnnlab.predict --workdir=runs/vgg --input=test.npz --tta=flip

A TTA (registered by name in TTAS) is a tuple of deterministic transforms of
a uint8 batch [B, H, W, C], applied before the run's eval pipeline (so fitted
normalization such as ZCA sees each view as it saw training images), their
weights (summing to 1) and how the views' outputs are combined:

  'probabilities'  weighted mean of the softmax probabilities (flip);
  'logits'         weighted mean of the logits (airbench's level 2).

Loss and accuracy are those of the combined prediction. With the single
view `identity` evaluation computes exactly what plain evaluation computes.
steps.make_eval_fn(pipeline, name) builds the jitted evaluation step.
"""
import dataclasses
from typing import Callable, Sequence, Tuple

import jax
import jax.numpy as jnp

from cnnlab.core.registry import Registry

View = Callable[[jax.Array], jax.Array]
COMBINE_MODES = ('probabilities', 'logits')


@dataclasses.dataclass(frozen=True)
class TTA:
  """Views, their weights and how to combine them (hashable: bound statically)."""
  views: Tuple[View, ...]
  weights: Tuple[float, ...]
  combine: str = 'probabilities'

  def __post_init__(self):
    if len(self.views) != len(self.weights) or abs(sum(self.weights) - 1.0) > 1e-9:
      raise ValueError(f'TTA weights {self.weights} must be one per view and sum to 1')
    if self.combine not in COMBINE_MODES:
      raise ValueError(f'TTA combine={self.combine!r}: use one of {COMBINE_MODES}')


TTAS = Registry('test-time augmentation', '')


def identity(images: jax.Array) -> jax.Array:
  return images


def flip_lr(images: jax.Array) -> jax.Array:
  return images[:, :, ::-1]


def translate(dy: int, dx: int) -> View:
  """A view shifted by (dy, dx) pixels (content moves down / right for positive
  values), the uncovered border filled by reflection without repeating the
  edge pixel (torch / np.pad 'reflect', as airbench pads)."""

  def view(images):
    pad = max(abs(dy), abs(dx))
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')
    h, w = images.shape[1:3]
    return padded[:, pad - dy:pad - dy + h, pad - dx:pad - dx + w]

  view.__name__ = f'translate_{dy}_{dx}'
  return view


def _then(first: View, second: View) -> View:
  view = lambda images: second(first(images))
  view.__name__ = f'{first.__name__}_{second.__name__}'
  return view


TTAS.add('identity', TTA((identity,), (1.0,)))
# The original and its mirror image: the usual TTA for natural images
# (not for digits or text, where a mirror changes the class).
TTAS.add('flip', TTA((identity, flip_lr), (0.5, 0.5)))
# airbench94's tta_level=2: half the weight on the image and its mirror, half
# on both mirrored one-pixel translations (down-right and up-left), averaged
# as logits: 1/4, 1/4 and 1/8 for each of the four translated views.
_down_right, _up_left = translate(1, 1), translate(-1, -1)
TTAS.add('airbench', TTA(
    (identity, flip_lr, _down_right, _then(_down_right, flip_lr), _up_left,
     _then(_up_left, flip_lr)),
    (0.25, 0.25, 0.125, 0.125, 0.125, 0.125), combine='logits'))


def get(name: str) -> TTA:
  """TTA `name` (a UserError lists the known names)."""
  return TTAS.get(name)


def views(name: str) -> Tuple[View, ...]:
  """The transforms of TTA `name`."""
  return get(name).views


def combine(tta: TTA, logits: Sequence[jax.Array]) -> jax.Array:
  """Scores [B, K] whose softmax is the TTA's combined prediction."""
  if len(logits) == 1:
    return logits[0]
  weights = jnp.asarray(tta.weights, jnp.float32)[:, None, None]
  if tta.combine == 'logits':
    return jnp.sum(weights * jnp.stack(logits), axis=0)
  # log(sum_v w_v softmax(logits_v)): logits whose softmax is the weighted mean.
  log_probs = jnp.stack([jax.nn.log_softmax(x) for x in logits])
  return jax.nn.logsumexp(log_probs, axis=0, b=weights)
