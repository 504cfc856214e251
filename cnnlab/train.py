"""The training loop: cnnlab.steps' pure functions driven over epochs, with saves.

Imported only by the entry points that run it (cnnlab.main, cnnlab.sweep;
tests/test_layers.py enforces it). The data order is a permutation drawn
from `fold_in(key, epoch)` and every step's randomness from
`fold_in(key, step)` (cnnlab.steps), so a run resumed from a checkpoint
repeats the uninterrupted one exactly.
"""
import functools
import logging
import math
import os
import time
from typing import Any, Dict, List

import jax
import ml_collections
import numpy as np

from cnnlab import augment
from cnnlab.core import checkpoints
from cnnlab.core import cli
from cnnlab import finetune
from cnnlab.core import history
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import models
from cnnlab import optimizers
from cnnlab.core import parallel
from cnnlab import report
from cnnlab import schedules
from cnnlab import steps
from cnnlab import tensorboard
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError
from cnnlab.core.progress import ProgressBar

class TrainingDiverged(UserError):
  """The loss became NaN or infinite."""


def step_metrics(metrics: List[Dict[str, Any]]) -> List[Dict[str, float]]:
  """Per-step metrics (device scalars or floats) as Python floats.

  Float64 everywhere, so an epoch's mean is the same whether its first steps
  came from this process or from history.load_partial after a resume.
  """
  return [{k: float(v) for k, v in m.items()} for m in jax.device_get(metrics)]


def write_report(workdir: str, ckpts: checkpoints.Checkpoints, state, val_ds, mesh, eval_fn,
                 config: ml_collections.ConfigDict, meta: Dict[str, Any]) -> None:
  """Evaluates the best checkpoint on val (every process) and has report write it up.

  Skipped when config.report is False; without a val split the report holds
  the training curves only.
  """
  if not config.report:
    return
  main = parallel.is_main_process()
  if not len(val_ds.labels):
    if main:
      report.curves_only(workdir)
    return
  ckpts.wait()
  step = ckpts.best_step()
  if step is not None:
    state = ckpts.restore(state, best=True)
  else:
    step = int(state.step)
  result = steps.evaluate(state, val_ds, mesh, eval_fn, config.eval_batch_size,
                          with_probabilities=True)
  probabilities = result.pop('probabilities')
  if main:
    report.after_training(workdir, result, probabilities, val_ds, step, config, meta)


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
  steps_per_epoch, num_train_steps = schedules.steps_for(config, len(train_ds.labels))
  tx = optimizers.create_optimizer(config, steps_per_epoch, num_train_steps,
                                   frozen=models.frozen_params(model))
  lookahead_settings = lookahead.settings(config, steps_per_epoch, num_train_steps)
  tta_eval_fn = steps.make_eval_fn(pipeline, config.tta) if config.tta else None  # names checked now

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
  workdir_lib.check_workdir(workdir, meta)

  init_rng, train_rng = jax.random.split(jax.random.key(config.seed))
  input_stats = pipeline.fit(train_ds.images)
  state = steps.create_train_state(init_rng, model, train_ds.image_shape, tx, input_stats)
  ckpts = checkpoints.Checkpoints(workdir, config.max_checkpoints_to_keep)
  if ckpts.latest_step() is None:  # a resumed run restores its own fitted and tuned weights
    state = steps.fit_model(state, model, train_ds.images, pipeline, config.seed)
    if config.init_from:
      state = finetune.load_init(state, config.init_from, workdir if main else '')
  state = steps.with_lookahead(state, lookahead_settings)
  # Restore into the replicated template: every process reads its shards collectively.
  state = workdir_lib.restore_or_init(ckpts, parallel.replicate(state, mesh), workdir)
  if main:
    workdir_lib.write_meta(workdir, meta)
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
    step_fn = jax.jit(functools.partial(steps.gather_train_step, **step_kwargs), donate_argnums=0)
  else:
    step_fn = jax.jit(functools.partial(steps.train_step, **step_kwargs), donate_argnums=0)
  eval_fn = steps.make_eval_fn(pipeline)
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
  finite_fn = jax.jit(steps.state_is_finite)
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
        val = steps.evaluate(state, val_ds, mesh, eval_fn, config.eval_batch_size)
        record.update(val_loss=val['loss'], val_accuracy=val['accuracy'])
        state = state.replace(opt_state=optimizers.after_eval(state.opt_state, val))
        if val['accuracy'] > best_accuracy:
          best_accuracy, evals_since_best = val['accuracy'], 0
          save(best=True)
        else:
          evals_since_best += 1
        if tta_eval_fn is not None and step == num_train_steps:
          val = steps.evaluate(state, val_ds, mesh, tta_eval_fn, config.eval_batch_size)
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
  write_report(workdir, ckpts, state, val_ds, mesh, tta_eval_fn or eval_fn, config, meta)
  ckpts.close()
  return record
