"""Test-time augmentation: average the predicted probabilities over fixed views.

  python -m cnnlab.evaluate --workdir=runs/vgg --tta=flip
  python -m cnnlab.predict --workdir=runs/vgg --input=test.npz --tta=flip

A TTA name (from VIEWS) is a tuple of deterministic transforms of a uint8
batch [B, H, W, C], applied before the run's eval pipeline (so fitted
normalization such as ZCA sees each view as it saw training images). The
model's probabilities are averaged over the views; loss and accuracy are
those of the averaged prediction. With the single view `identity` the step
computes exactly what train.eval_step computes.
"""
import functools
from typing import Callable, Dict, Sequence, Tuple

import jax
import jax.numpy as jnp

from cnnlab import augment
from cnnlab import train
from cnnlab.registry import Registry

View = Callable[[jax.Array], jax.Array]
VIEWS = Registry('test-time augmentation', '')


def identity(images: jax.Array) -> jax.Array:
  return images


def flip_lr(images: jax.Array) -> jax.Array:
  return images[:, :, ::-1]


VIEWS.add('identity', (identity,))
# The original and its mirror image: the usual TTA for natural images
# (not for digits or text, where a mirror changes the class).
VIEWS.add('flip', (identity, flip_lr))


def views(name: str) -> Tuple[View, ...]:
  """The transforms of TTA `name` (a UserError lists the known names)."""
  return VIEWS.get(name)


def tta_eval_step(state: train.TrainState, batch: Dict[str, jax.Array], *,
                  pipeline: augment.Pipeline, views: Sequence[View]  # pylint: disable=redefined-outer-name
                  ) -> Tuple[Dict[str, jax.Array], jax.Array]:
  """train.eval_step on the average of the views' probabilities.

  Returns (sums, probabilities) as train.eval_step: loss_sum, correct, count,
  confusion [true, predicted] over rows where batch['mask'] is 1.
  """
  logits = []
  for view in views:
    images = pipeline.eval(view(batch['image']), state.input_stats)
    logits.append(state.apply_fn(train._variables(state), images, train=False))  # pylint: disable=protected-access
  if len(logits) == 1:
    scores = logits[0]
  else:
    # log(mean_v softmax(logits_v)): logits whose softmax is the averaged probability.
    log_probs = jnp.stack([jax.nn.log_softmax(x) for x in logits])
    scores = jax.nn.logsumexp(log_probs, axis=0) - jnp.log(len(logits))
  mask = batch['mask'].astype(jnp.float32)
  labels = batch['label']
  predicted = jnp.argmax(scores, -1)
  num_classes = scores.shape[-1]
  onehot_true = jax.nn.one_hot(labels, num_classes) * mask[:, None]
  onehot_pred = jax.nn.one_hot(predicted, num_classes)
  sums = {
      'loss_sum': jnp.sum(train.cross_entropy_loss(scores, labels) * mask),
      'correct': jnp.sum((predicted == labels) * mask),
      'count': jnp.sum(mask),
      'confusion': jnp.round(onehot_true.T @ onehot_pred).astype(jnp.int32),
  }
  return sums, jax.nn.softmax(scores)


def eval_fn(pipeline: augment.Pipeline, name: str):
  """A jitted (state, batch) -> (sums, probabilities) for train.evaluate.

  An empty `name` is the plain train.eval_step.
  """
  if not name:
    return jax.jit(functools.partial(train.eval_step, pipeline=pipeline))
  return jax.jit(functools.partial(tta_eval_step, pipeline=pipeline, views=views(name)))
