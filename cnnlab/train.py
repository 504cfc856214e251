"""Training and evaluation: small pure functions plus the loop that uses them.

`train_step` and `eval_step` are pure (state, batch) -> (state, metrics)
functions, jitted over a data-parallel Mesh (cnnlab.parallel). Everything
random derives from config.seed: init and dropout/augmentation keys from
`fold_in(key, step)`, the data order from `fold_in(key, epoch)`, so a run
resumed from a checkpoint repeats the uninterrupted one exactly.
"""
import dataclasses
import functools
import json
import logging
import math
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from cnnlab import augment
from cnnlab import checkpoints
from cnnlab import cli
from cnnlab import finetune
from cnnlab import history
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import models
from cnnlab import optimizers
from cnnlab import parallel
from cnnlab import report
from cnnlab import schedules
from cnnlab import tensorboard
from cnnlab import tta as tta_lib
from cnnlab.errors import UserError
from cnnlab.progress import ProgressBar

META_FILE = 'meta.json'


class TrainState(train_state.TrainState):
  batch_stats: Any
  # Statistics the input pipeline fitted on the training split (featurewise
  # mean/std, ZCA): checkpointed so evaluation applies the same ones.
  input_stats: Any
  # cnnlab.lookahead's EMA of params and batch stats ({} when it is off).
  lookahead: Any = dataclasses.field(default_factory=dict)


class TrainingDiverged(UserError):
  """The loss became NaN or infinite."""


def initialized(rng: jax.Array, model, image_shape) -> Tuple[Any, Any]:
  """(params, batch_stats) of `model` for one image of `image_shape`."""
  variables = jax.jit(functools.partial(model.init, train=False))(
      {'params': rng}, jnp.zeros((1,) + tuple(image_shape), jnp.float32))
  return variables['params'], variables.get('batch_stats', {})


def create_train_state(rng: jax.Array, model, image_shape, tx: optax.GradientTransformation,
                       input_stats: Any = None) -> TrainState:
  params, batch_stats = initialized(rng, model, image_shape)
  return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                           batch_stats=batch_stats, input_stats=input_stats or {},
                           lookahead={})


def with_lookahead(state: TrainState, settings: Optional[lookahead.Settings]) -> TrainState:
  """state with its lookahead EMA started from its current weights (when on)."""
  if settings is None:
    return state.replace(lookahead={})
  return state.replace(lookahead=lookahead.init(state.params, state.batch_stats))


def fit_model(state: TrainState, model, train_images: np.ndarray,
              pipeline: augment.Pipeline, seed: int) -> TrainState:
  """Sets the parameters a model fits from data (airbench's whitening conv).

  They are fitted on up to models.FIT_IMAGES training images (a seeded random
  subset), as the model will see them: through the eval pipeline.
  """
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


def _variables(state: TrainState, params=None) -> Dict[str, Any]:
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
  """
  aug_rng, dropout_rng = jax.random.split(jax.random.fold_in(rng, state.step))
  images = augmented_images(state, batch, aug_rng, pipeline=pipeline,
                            steps_per_epoch=steps_per_epoch)

  def loss_fn(params):
    logits, updates = state.apply_fn(
        _variables(state, params), images, train=True,
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
  return state, {'loss': loss, 'accuracy': accuracy}


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
    view_logits.append(state.apply_fn(_variables(state), images, train=False))
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


# ---- the loop ---------------------------------------------------------------------

def state_is_finite(state: TrainState) -> jax.Array:
  """Whether every float of params, batch stats and optimizer state is finite.

  One fused reduction (jit it): far cheaper than the save it guards, which
  copies all of the same arrays to the host. A finite loss is not enough on
  its own: the update after the last finite loss can already overflow.
  """
  leaves = [x for x in jax.tree_util.tree_leaves((state.params, state.batch_stats,
                                                   state.opt_state, state.lookahead))
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else (
      jnp.bool_(True))


def step_metrics(metrics: List[Dict[str, Any]]) -> List[Dict[str, float]]:
  """Per-step metrics (device scalars or floats) as Python floats.

  Float64 everywhere, so an epoch's mean is the same whether its first steps
  came from this process or from history.load_partial after a resume.
  """
  return [{k: float(v) for k, v in m.items()} for m in jax.device_get(metrics)]


def check_workdir(workdir: str, meta: Dict[str, Any]) -> None:
  """Refuses to resume a workdir whose checkpoints are of another model or data shape."""
  path = os.path.join(workdir, META_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    old = json.load(f)
  for key in ('model', 'image_shape', 'num_classes', 'augment'):
    if old.get(key) != meta[key]:
      raise UserError(
          f'workdir {workdir!r} holds a run with {key}={old.get(key)!r}, but this config '
          f'has {key}={meta[key]!r}: resuming would mix them. Use a new --workdir, or '
          'delete the old one to start over.')


def write_meta(workdir: str, meta: Dict[str, Any]) -> None:
  tmp = os.path.join(workdir, META_FILE + '.tmp')
  with open(tmp, 'w') as f:
    json.dump(meta, f, indent=2)
  os.replace(tmp, os.path.join(workdir, META_FILE))


def read_meta(workdir: str) -> Dict[str, Any]:
  path = os.path.join(workdir, META_FILE)
  if not os.path.exists(path):
    raise UserError(f'{workdir!r} is not a cnnlab workdir (no {META_FILE}): pass the '
                    '--workdir of a training run')
  with open(path) as f:
    return json.load(f)


def steps_for(config: ml_collections.ConfigDict, num_train_images: int) -> Tuple[int, int]:
  """(steps_per_epoch, num_train_steps); the last partial batch of an epoch is dropped."""
  steps_per_epoch = num_train_images // config.batch_size
  if steps_per_epoch == 0:
    raise UserError(f'batch_size={config.batch_size} is larger than the {num_train_images} '
                    'training images: lower --config.batch_size')
  if config.num_train_steps > 0:
    return steps_per_epoch, config.num_train_steps
  return steps_per_epoch, schedules.epochs_to_steps(config.num_epochs, steps_per_epoch)


def restore_or_init(ckpts: checkpoints.Checkpoints, state: TrainState, workdir: str
                    ) -> TrainState:
  if ckpts.latest_step() is None:
    return state
  try:
    state = ckpts.restore(state)
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f'cannot resume from the checkpoint in {workdir!r} ({e}); it was '
                    'written by a different model or optimizer: use a new --workdir') from e
  logging.info('Resumed from step %d in %s', int(state.step), workdir)
  return state


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> Dict[str, Any]:
  """Trains config's model on config's data; checkpoints and metrics go to workdir.

  Returns the final history record (the last epoch's metrics).
  """
  workdir = os.path.abspath(workdir)
  main = parallel.is_main_process()
  mesh = parallel.create_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  train_ds, val_ds = input_pipeline.load_splits(config)
  model = models.from_config(config.model, train_ds.num_classes)
  pipeline = augment.create_pipeline(config.augment)
  steps_per_epoch, num_train_steps = steps_for(config, len(train_ds.labels))
  tx = optimizers.create_optimizer(config, steps_per_epoch, num_train_steps,
                                   frozen=models.frozen_params(model))
  lookahead_settings = lookahead.settings(config, steps_per_epoch, num_train_steps)
  tta_eval_fn = make_eval_fn(pipeline, config.tta) if config.tta else None  # names checked now

  meta = {'model': config.model.name, 'image_shape': list(train_ds.image_shape),
          'num_classes': train_ds.num_classes, 'class_names': train_ds.class_names,
          'label_values': train_ds.label_values, 'augment': config.augment,
          'data': {'name': config.data.name, 'dir': config.data.dir,
                   'num_train': len(train_ds.labels), 'num_val': len(val_ds.labels),
                   # Corrupt files left out under data.skip_corrupt=True.
                   'num_skipped': len(train_ds.skipped)},
          'skipped_files': list(train_ds.skipped),
          'steps_per_epoch': steps_per_epoch, 'num_train_steps': num_train_steps,
          'config': config.to_dict()}
  os.makedirs(workdir, exist_ok=True)
  check_workdir(workdir, meta)

  init_rng, train_rng = jax.random.split(jax.random.key(config.seed))
  input_stats = pipeline.fit(train_ds.images)
  state = create_train_state(init_rng, model, train_ds.image_shape, tx, input_stats)
  ckpts = checkpoints.Checkpoints(workdir, config.max_checkpoints_to_keep)
  if ckpts.latest_step() is None:  # a resumed run restores its fitted parameters
    state = fit_model(state, model, train_ds.images, pipeline, config.seed)
  if config.init_from and ckpts.latest_step() is None:  # a resumed run keeps its own weights
    state = finetune.load_init(state, config.init_from, workdir if main else '')
  state = with_lookahead(state, lookahead_settings)
  # Restore into the replicated template: every process reads its shards collectively.
  state = restore_or_init(ckpts, parallel.replicate(state, mesh), workdir)
  if main:
    write_meta(workdir, meta)
  start_step = int(state.step)
  # Every process needs the same records (best accuracy, early stopping decide
  # collective saves); only process 0 rewrites the file.
  records = history.truncate_after(workdir, start_step, rewrite=main)

  # steps_per_epoch lets the step derive the epoch from state.step (for
  # flip_lr(alternate=True)); the batches carry the examples' ids.
  step_kwargs = dict(pipeline=pipeline, label_smoothing=config.label_smoothing,
                     steps_per_epoch=steps_per_epoch, lookahead_settings=lookahead_settings)
  on_device = config.data.on_device and jax.process_count() == 1
  if on_device:
    device_data = parallel.replicate(
        {'image': train_ds.images, 'label': train_ds.labels}, mesh)
    step_fn = jax.jit(functools.partial(gather_train_step, **step_kwargs), donate_argnums=0)
  else:
    step_fn = jax.jit(functools.partial(train_step, **step_kwargs), donate_argnums=0)
  eval_fn = make_eval_fn(pipeline)
  # val_fraction=0 (train on everything, as airbench): no per-epoch val, and
  # best/ is the last checkpoint.
  has_val = len(val_ds.labels) > 0
  rows = parallel.process_rows(config.batch_size, mesh)

  best_accuracy = max((r['val_accuracy'] for r in records if 'val_accuracy' in r),
                      default=-1.0)
  evals_since_best = 0
  for r in records:
    if 'val_accuracy' in r:
      evals_since_best = 0 if r['val_accuracy'] >= best_accuracy else evals_since_best + 1
  num_epochs = math.ceil(num_train_steps / steps_per_epoch)
  logging.info('Training %s: %d train / %d val images, %d steps/epoch, %d steps '
               '(%d epochs), batch %d on %d device(s)', config.model.name,
               len(train_ds.labels), len(val_ds.labels), steps_per_epoch, num_train_steps,
               num_epochs, config.batch_size, mesh.devices.size)

  record = records[-1] if records else {}
  tb = tensorboard.EpochWriter(workdir, records, enabled=main)
  step = start_step
  epoch_metrics, checked_step = [], start_step
  bar, epoch_start, epoch_first_step = None, time.monotonic(), start_step
  run_start = time.monotonic() - (records[-1]['elapsed_seconds'] if records else 0.0)
  # Every save is checked first (save() below), whatever log_every_steps is,
  # so a NaN state is never saved; last_good is the latest periodic
  # checkpoint known to be finite, the one a TrainingDiverged message names.
  last_good = ckpts.latest_step()
  finite_fn = jax.jit(state_is_finite)
  finite_step = start_step  # the state at this step was checked finite (or restored)

  def diverged(problem: str, first: int, last: int) -> TrainingDiverged:
    return TrainingDiverged(
        f'{problem} between steps {first} and {last}. '
        + (f'The last good checkpoint is step {last_good} in {workdir}/checkpoints'
           if last_good is not None else 'No checkpoint was saved before it')
        + '. Lower --config.optimizer.lr or set --config.optimizer.grad_clip_norm=1.0, '
        'then rerun (the same --workdir resumes from the last good checkpoint).')

  def check_loss() -> None:
    """Raises TrainingDiverged unless every loss since the last check is finite."""
    nonlocal checked_step
    if step > checked_step:
      losses = jax.device_get([m['loss'] for m in epoch_metrics[-(step - checked_step):]])
      if not np.all(np.isfinite(losses)):
        raise diverged(f'loss became {losses[-1]}', checked_step + 1, step)
      checked_step = step

  def check_state() -> None:
    """check_loss, then the state itself: the update after a finite loss can overflow."""
    nonlocal finite_step
    check_loss()
    if step > finite_step:
      if not bool(parallel.fetch(finite_fn(state))):
        raise diverged('the weights or optimizer state became NaN/inf (the loss was still '
                       'finite)', finite_step + 1, step)
      finite_step = step

  def save(best: bool = False) -> None:
    nonlocal last_good
    check_state()
    if best:
      ckpts.save_best(step, state)
    else:
      ckpts.save(step, state)
      last_good = step
      if main and step % steps_per_epoch:  # mid-epoch: keep the epoch's metrics so far
        history.save_partial(workdir, step, step_metrics(epoch_metrics),
                             keep=config.max_checkpoints_to_keep + 1)

  interrupt = cli.DeferredInterrupt().start()  # Ctrl-C lands between steps
  try:
    while step < num_train_steps:
      interrupt.raise_if_requested()
      epoch, position = divmod(step, steps_per_epoch)
      if bar is None:
        order = input_pipeline.epoch_permutation(config.seed, epoch, len(train_ds.labels))
        last = min(num_train_steps, (epoch + 1) * steps_per_epoch)
        bar = ProgressBar(last - epoch * steps_per_epoch, f'epoch {epoch + 1}/{num_epochs}',
                          enabled=main)
        epoch_start, epoch_first_step, epoch_metrics = time.monotonic(), step, []
        if step == start_step and position:  # resumed mid-epoch: its metrics so far
          epoch_metrics = history.load_partial(workdir, step)
          epoch_metrics = epoch_metrics if len(epoch_metrics) == position else []
      indices = order[position * config.batch_size:(position + 1) * config.batch_size]
      if on_device:
        state, metrics = step_fn(state, device_data,
                                 parallel.global_batch({'i': indices.astype(np.int32)}, mesh)['i'],
                                 train_rng)
      else:
        local = indices[rows[0]:rows[1]]
        batch = {'image': train_ds.images[local], 'label': train_ds.labels[local],
                 'id': local.astype(np.int32)}  # global indices into the training split
        state, metrics = step_fn(state, parallel.global_batch(batch, mesh), train_rng)
      epoch_metrics.append(metrics)
      step += 1
      end_of_epoch = step % steps_per_epoch == 0 or step == num_train_steps
      if step % config.log_every_steps == 0 or end_of_epoch:
        check_loss()
        done = step_metrics(epoch_metrics)
        bar.update(step - epoch * steps_per_epoch,
                   loss=float(np.mean([m['loss'] for m in done])),
                   acc=float(np.mean([m['accuracy'] for m in done])))
      if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0:
        save()
      if not end_of_epoch:
        continue

      bar.close()
      bar = None
      train_seconds = time.monotonic() - epoch_start
      train_seconds_total = record.get('train_seconds_total', 0.0)  # the previous epoch's
      done = step_metrics(epoch_metrics)
      record = {
          'epoch': epoch + 1, 'step': step,
          'train_loss': float(np.mean([m['loss'] for m in done])),
          'train_accuracy': float(np.mean([m['accuracy'] for m in done])),
          'lr': optimizers.current_lr(state.opt_state),
          'images_per_sec': (step - epoch_first_step) * config.batch_size / train_seconds,
          # Wall seconds of training steps alone (no evaluation or saving) so far.
          'train_seconds_total': train_seconds_total + train_seconds,
      }
      if has_val and ((epoch + 1) % config.eval_every_epochs == 0 or step == num_train_steps):
        val = evaluate(state, val_ds, mesh, eval_fn, config.eval_batch_size)
        record.update(val_loss=val['loss'], val_accuracy=val['accuracy'])
        state = state.replace(opt_state=optimizers.after_eval(state.opt_state, val))
        if val['accuracy'] > best_accuracy:
          best_accuracy, evals_since_best = val['accuracy'], 0
          save(best=True)
        else:
          evals_since_best += 1
        if tta_eval_fn is not None and step == num_train_steps:
          val = evaluate(state, val_ds, mesh, tta_eval_fn, config.eval_batch_size)
          record.update(val_loss_tta=val['loss'], val_accuracy_tta=val['accuracy'])
      record['epoch_seconds'] = time.monotonic() - epoch_start
      record['elapsed_seconds'] = time.monotonic() - run_start
      if not config.checkpoint_every_steps or step == num_train_steps:
        save()
      if main:
        history.append(workdir, record)
        tb.write(record)
        logging.info('epoch %d: %s', epoch + 1, ', '.join(
            f'{k} {v:.4g}' for k, v in record.items() if k not in ('epoch', 'step')))
      if config.early_stopping_patience and evals_since_best >= config.early_stopping_patience:
        logging.info('Early stopping: val accuracy has not improved for %d evaluations '
                     '(best %.4f).', evals_since_best, best_accuracy)
        break
  except KeyboardInterrupt:
    if bar is not None:
      bar.close()
    logging.warning('Interrupted: saving a checkpoint at step %d, then exiting; rerun '
                    'with the same --workdir to resume.', step)
    try:
      save()
    except TrainingDiverged as e:
      logging.warning('Not saving step %d: %s', step, e)
    ckpts.close()
    raise
  except TrainingDiverged:
    # Let a pending asynchronous save of the last good checkpoint finish.
    if bar is not None:
      bar.close()
    ckpts.close()
    raise
  finally:
    interrupt.stop()
  save()
  if not has_val:
    save(best=True)  # nothing to choose by: the best is the last
  interrupt.raise_if_requested()  # Ctrl-C during the last step: saved, now exit
  tb.close()
  # <workdir>/report/: the best checkpoint's figures and per-class table on val.
  report.after_training(workdir, ckpts, state, val_ds, mesh, tta_eval_fn or eval_fn, config,
                        meta)
  ckpts.close()
  return record
