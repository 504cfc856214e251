"""The pure, jittable pieces of training and evaluation: state, steps, metrics.

`train_step` and `eval_step` are pure (state, batch) -> (state, metrics)
functions; the caller jits them over a data-parallel Mesh (cnnlab.core.parallel)
and binds the static choices (pipeline, TTA, lookahead) with partial.
Everything random derives from the step: augmentation and dropout keys are
`fold_in(key, step)`, so a resumed run repeats the uninterrupted one exactly.
cnnlab.train's loop, cnnlab.inference and the commands all use these.
"""
import dataclasses
import functools
from typing import Any, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from cnnlab import augment
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import lowering as lowering_lib
from cnnlab import models
from cnnlab import optimizers
from cnnlab.core import parallel
from cnnlab.core import train_state as core_train_state
from cnnlab import tta as tta_lib


class TrainState(train_state.TrainState):
  batch_stats: Any
  # Statistics the input pipeline fitted on the training split (featurewise
  # mean/std, ZCA): checkpointed so evaluation applies the same ones.
  input_stats: Any
  # cnnlab.lookahead's EMA of params and batch stats ({} when it is off).
  lookahead: Any = dataclasses.field(default_factory=dict)


def create_train_state(rng: jax.Array, model, image_shape, tx: optax.GradientTransformation,
                       input_stats: Any = None,
                       lowering: Optional[lowering_lib.Lowering] = None) -> TrainState:
  """`model`'s fresh state for images of `image_shape` (cnnlab.core.train_state.create).

  lowering: how apply_fn computes convs and products (None: XLA's, float32).
  """
  return core_train_state.create(
      TrainState, model, rng, jnp.zeros((1,) + tuple(image_shape), jnp.float32), tx,
      apply_fn=(lowering or lowering_lib.Lowering()).wrap(model.apply),
      collections=('batch_stats',), init_kwargs={'train': False},
      input_stats=input_stats or {}, lookahead={})


def state_for(config, num_classes: int, image_shape, steps_per_epoch: int, num_train_steps: int,
              rng: Optional[jax.Array] = None, input_stats: Any = None, schedule=None
              ) -> Tuple[Any, TrainState]:
  """(model, state) of a config: its model, optimizer, lowering and lookahead.

  The one builder of every command that makes or restores a cnnlab state
  (train, inference's restore template, lr_find, import_keras); rng default
  key(0), for a template whose values a restore replaces. schedule: an lr
  schedule in place of config.schedule's (lr_find's sweep).
  """
  model = models.from_config(config.model, num_classes)
  tx = optimizers.create_optimizer(config, steps_per_epoch, num_train_steps, schedule=schedule,
                                   frozen=models.frozen_params(model))
  state = create_train_state(jax.random.key(0) if rng is None else rng, model, image_shape, tx,
                             input_stats, lowering_lib.from_config(config))
  return model, with_lookahead(state, lookahead.settings(config, steps_per_epoch,
                                                         num_train_steps))


def with_lookahead(state: TrainState, settings: Optional[lookahead.Settings]) -> TrainState:
  """state with its lookahead EMA started from its current weights (when on)."""
  if settings is None:
    return state.replace(lookahead={})
  return state.replace(lookahead=lookahead.init(state.params, state.batch_stats))


def fit_model(state: TrainState, model, train_images: np.ndarray,
              pipeline: augment.Pipeline, seed: int) -> TrainState:
  """Sets the parameters a model brings or fits from data before training.

  Pretrained weights first (models.pretrained: an ImageNet backbone's
  model.backbone_weights), then the data-fitted ones (airbench's whitening
  conv), fitted on up to models.FIT_IMAGES training images (a seeded random
  subset), as the model will see them: through the eval pipeline.
  """
  params, batch_stats = models.pretrained(model, state.params, state.batch_stats)
  state = state.replace(params=params, batch_stats=batch_stats)
  if not hasattr(model, 'fit_params'):
    return state
  rows = np.random.default_rng(seed).permutation(len(train_images))[:models.FIT_IMAGES]
  images = np.asarray(pipeline.eval(train_images[np.sort(rows)], state.input_stats))
  return state.replace(params=models.fit_params(model, state.params, images))


def cross_entropy_loss(logits, labels, label_smoothing: float = 0.0):
  """Per-example softmax cross-entropy with optional label smoothing."""
  targets = jax.nn.one_hot(labels, logits.shape[-1])
  if label_smoothing:
    targets = optax.smooth_labels(targets, label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def variables_of(state: TrainState, params=None) -> Dict[str, Any]:
  variables = {'params': state.params if params is None else params}
  if state.batch_stats:
    variables['batch_stats'] = state.batch_stats
  return variables


def augmented_images(state: TrainState, batch: Dict[str, jax.Array], aug_rng: jax.Array, *,
                     pipeline: augment.Pipeline, steps_per_epoch: Optional[int] = None
                     ) -> jax.Array:
  """The model's training input: batch['image'] through the pipeline's random transforms.

  Derandomized ops (airbench's flip_lr(alternate=True)) decide per example
  from batch['id'] (each row's index in the training split, when the batch
  has one) and the epoch, state.step // steps_per_epoch (when given): both
  are data, so the step stays pure and a resumed run repeats the same flips.
  """
  epoch = None if steps_per_epoch is None else state.step // steps_per_epoch
  return pipeline.train(aug_rng, batch['image'], state.input_stats,
                        example_ids=batch.get('id'), epoch=epoch)


def train_step(state: TrainState, batch: Dict[str, jax.Array], rng: jax.Array, *,
               pipeline: augment.Pipeline, label_smoothing: float = 0.0,
               steps_per_epoch: Optional[int] = None,
               lookahead_settings: Optional[lookahead.Settings] = None
               ) -> Tuple[TrainState, Dict[str, jax.Array]]:
  """One optimizer step on a (global) batch of uint8 images; returns batch means.

  batch: 'image' uint8 [B, H, W, C], 'label' int [B] and, optionally, 'id'
  int32 [B], the rows' indices in the training split (see augmented_images).
  lookahead_settings: when given, the step ends with cnnlab.lookahead.update.

  Returns (state, metrics): the batch's mean loss and accuracy, and the lr
  the step used where the optimizer injects one (create_optimizer's does).
  """
  aug_rng, dropout_rng = jax.random.split(jax.random.fold_in(rng, state.step))
  images = augmented_images(state, batch, aug_rng, pipeline=pipeline,
                            steps_per_epoch=steps_per_epoch)

  def loss_fn(params):
    logits, updates = state.apply_fn(
        variables_of(state, params), images, train=True,
        rngs={'dropout': dropout_rng}, mutable=['batch_stats'])
    loss = cross_entropy_loss(logits, batch['label'], label_smoothing).mean()
    return loss, (logits, updates)

  (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(
      grads=grads, batch_stats=updates.get('batch_stats', state.batch_stats))
  if lookahead_settings is not None:
    ema, params, batch_stats = lookahead.update(lookahead_settings, state.step, state.lookahead,
                                                state.params, state.batch_stats)
    state = state.replace(params=params, batch_stats=batch_stats, lookahead=ema)
  accuracy = jnp.mean(jnp.argmax(logits, -1) == batch['label'])
  metrics = {'loss': loss, 'accuracy': accuracy}
  lr = optimizers.step_lr(state.opt_state)
  if lr is not None:  # the lr this step used (config.log_step_records writes it per step)
    metrics['lr'] = lr
  return state, metrics


def gather_train_step(state, data, indices, rng, **kwargs):
  """train_step on rows `indices` of a device-resident dataset (airbench style).

  The indices are the examples' ids (batch['id']) for derandomized augmentation.
  """
  batch = {'image': data['image'][indices], 'label': data['label'][indices], 'id': indices}
  return train_step(state, batch, rng, **kwargs)


def eval_step(state: TrainState, batch: Dict[str, jax.Array], *,
              pipeline: augment.Pipeline, tta: Optional[tta_lib.TTA] = None
              ) -> Tuple[Dict[str, jax.Array], jax.Array]:
  """Sums over the rows where batch['mask'] is 1 (exact with a padded last batch).

  tta: views whose predictions are combined (cnnlab.tta); None = the image.

  Returns (sums, probabilities): loss_sum, correct, count and the confusion
  counts [true, predicted], plus softmax probabilities per row.
  """
  view_logits = []
  for view in (tta.views if tta else (tta_lib.identity,)):
    images = pipeline.eval(view(batch['image']), state.input_stats)
    view_logits.append(state.apply_fn(variables_of(state), images, train=False))
  logits = tta_lib.combine(tta, view_logits) if tta else view_logits[0]
  mask = batch['mask'].astype(jnp.float32)
  labels = batch['label']
  predicted = jnp.argmax(logits, -1)
  num_classes = logits.shape[-1]
  onehot_true = jax.nn.one_hot(labels, num_classes) * mask[:, None]
  onehot_pred = jax.nn.one_hot(predicted, num_classes)
  sums = {
      'loss_sum': jnp.sum(cross_entropy_loss(logits, labels) * mask),
      'correct': jnp.sum((predicted == labels) * mask),
      'count': jnp.sum(mask),
      'confusion': jnp.round(onehot_true.T @ onehot_pred).astype(jnp.int32),
  }
  return sums, jax.nn.softmax(logits)


def make_eval_fn(pipeline: augment.Pipeline, tta: str = ''):
  """A jitted (state, batch) -> (sums, probabilities) for evaluate.

  tta: a cnnlab.tta name; '' = plain evaluation (a UserError lists the names).
  """
  spec = tta_lib.get(tta) if tta else None
  return jax.jit(functools.partial(eval_step, pipeline=pipeline, tta=spec))


def pad_batches(images: np.ndarray, labels: np.ndarray, batch_size: int):
  """Yields {'image','label','mask'} batches of exactly batch_size (last one padded)."""
  for start in range(0, len(labels), batch_size):
    image, label = images[start:start + batch_size], labels[start:start + batch_size]
    pad = batch_size - len(label)
    mask = np.concatenate([np.ones(len(label), np.int32), np.zeros(pad, np.int32)])
    if pad:
      image = np.concatenate([image, np.zeros((pad,) + image.shape[1:], image.dtype)])
      label = np.concatenate([label, np.zeros(pad, label.dtype)])
    yield {'image': image, 'label': label, 'mask': mask}


def evaluate(state: TrainState, dataset: input_pipeline.Dataset, mesh, eval_fn,
             batch_size: int, with_probabilities: bool = False) -> Dict[str, Any]:
  """Exact loss / accuracy / confusion counts of `state` on a whole dataset."""
  parallel.check_batch_size(batch_size, mesh, 'eval_batch_size')
  start, stop = parallel.process_rows(batch_size, mesh)
  totals, probabilities = None, []
  for batch in pad_batches(dataset.images, dataset.labels, batch_size):
    local = {k: v[start:stop] for k, v in batch.items()}
    sums, probs = eval_fn(state, parallel.global_batch(local, mesh))
    totals = sums if totals is None else jax.tree_util.tree_map(jnp.add, totals, sums)
    if with_probabilities:
      probabilities.append(parallel.fetch(probs)[batch['mask'] == 1])
  totals = parallel.fetch(totals)
  count = max(float(totals['count']), 1.0)
  result = {'loss': float(totals['loss_sum']) / count,
            'accuracy': float(totals['correct']) / count,
            'count': int(totals['count']),
            'confusion': totals['confusion'].tolist()}
  if with_probabilities:
    result['probabilities'] = np.concatenate(probabilities)
  return result
