"""The training loop: cnnlab.steps' pure functions driven over epochs, with saves.

Imported only by the entry points that run it (cnnlab.main, cnnlab.sweep;
tests/test_layers.py enforces it). The data order is a permutation drawn
from `fold_in(key, epoch)` and every step's randomness from
`fold_in(key, step)` (cnnlab.steps), so a run resumed from a checkpoint
repeats the uninterrupted one exactly.
"""
import dataclasses
import logging
import math
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import jax
import ml_collections
import numpy as np

from cnnlab import augment
from cnnlab import batches
from cnnlab.core import checkpoints
from cnnlab import finetune
from cnnlab.core import history
from cnnlab.core import machine
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import lowering
from cnnlab import optimizers
from cnnlab.core import parallel
from cnnlab import report
from cnnlab import schedules
from cnnlab import steps
from cnnlab import tensorboard
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.best import BestTracker
from cnnlab.core.guards import CheckedSaves, DeferredInterrupt, DivergenceGuard, interruptible
from cnnlab.core.guards import TrainingDiverged  # what the loop raises (callers catch it here)
from cnnlab.core.progress import ProgressBar

# The fields of meta.json a resumed run must keep: the checkpoints' network and data shape,
# and what the training images went through.
RESUME_KEYS = ('model', 'image_shape', 'num_classes', 'augment')

def step_metrics(metrics: List[Dict[str, Any]]) -> List[Dict[str, float]]:
  """Per-step metrics (device scalars or floats) as Python floats.

  Float64 everywhere, so an epoch's mean is the same whether its first steps
  came from this process or from history.load_partial after a resume.
  """
  return [{k: float(v) for k, v in m.items()} for m in jax.device_get(metrics)]


def chosen_checkpoint(ckpts: checkpoints.Checkpoints, state) -> Tuple[Any, int]:
  """(state, step) of the checkpoint the run chose: best/ (the last one without val)."""
  ckpts.wait()
  step = ckpts.best_step()
  if step is None:
    return state, int(state.step)
  return ckpts.restore(state, best=True), step


def write_report(run: 'Run', state, step: int) -> None:
  """Evaluates the chosen checkpoint on val (every process) and has report write it up.

  Skipped when config.report is False; without a val split the report holds
  the training curves only.
  """
  if not run.config.report:
    return
  if not run.has_val:
    if run.main:
      report.curves_only(run.workdir)
    return
  final_evaluation(run, state, run.val_ds, step, report.after_training)


def final_evaluation(run: 'Run', state, dataset, step: int, write) -> Dict[str, Any]:
  """Evaluates `state` on `dataset` (every process); `write` (a cnnlab.report
  after_* function) writes it up on the main process. Returns the metrics."""
  result = steps.evaluate(state, dataset, run.mesh, run.tta_eval_fn or run.eval_fn,
                          run.config.eval_batch_size, with_probabilities=True)
  probabilities = result.pop('probabilities')
  if run.main:
    write(run.workdir, result, probabilities, dataset, step, run.config, run.meta)
  return result


def evaluate_test(run: 'Run', state, step: int) -> Optional[Dict[str, Any]]:
  """The one evaluation of the test part (official split or data.test_fraction): the chosen
  checkpoint, at the end.

  Nothing before it reads the test part: no record, checkpoint choice or
  stopping decision depends on it. Writes <workdir>/eval_test.json (and its
  report under report/test/ with config.report). None without a test part.
  """
  if not len(run.test_ds.labels):
    return None
  return final_evaluation(run, state, run.test_ds, step, report.after_test)


@dataclasses.dataclass
class Run:
  """Everything a training run fixes before its first step (see prepare)."""
  config: ml_collections.ConfigDict
  workdir: str
  main: bool  # process 0: the one that writes files
  mesh: Any
  train_ds: input_pipeline.Dataset
  val_ds: input_pipeline.Dataset
  test_ds: input_pipeline.Dataset  # data.test_fraction's part (empty without): read at the end only
  steps_per_epoch: int
  num_train_steps: int
  meta: Dict[str, Any]
  ckpts: checkpoints.Checkpoints
  state: Any  # restored or freshly initialised, replicated over the mesh
  records: List[Dict[str, Any]]  # history kept from before a resume
  source: Any  # cnnlab.batches: where each step's batch comes from
  train_rng: jax.Array
  eval_fn: Any
  tta_eval_fn: Any  # None without config.tta

  @property
  def has_val(self) -> bool:  # val_fraction=0 (all images train, as airbench): no val
    return len(self.val_ds.labels) > 0

  @property
  def num_epochs(self) -> int:
    return math.ceil(self.num_train_steps / self.steps_per_epoch)


def run_meta(config, train_ds, val_ds, test_ds, steps_per_epoch: int, num_train_steps: int
             ) -> Dict[str, Any]:
  """The run's meta.json (cnnlab.core.workdir): what its checkpoints are and were trained on."""
  return {'lab': 'cnnlab', 'model': config.model.name, 'image_shape': list(train_ds.image_shape),
          'num_classes': train_ds.num_classes, 'class_names': train_ds.class_names,
          'label_values': train_ds.label_values, 'augment': config.augment,
          'data': {'name': config.data.name, 'dir': config.data.dir,
                   'val_dir': config.data.val_dir,
                   'val_split': config.data.get('val_split', ''),
                   'num_train': len(train_ds.labels), 'num_val': len(val_ds.labels),
                   'num_test': len(test_ds.labels),
                   # Corrupt files left out under data.skip_corrupt=True.
                   'num_skipped': len(train_ds.skipped)},
          'skipped_files': list(train_ds.skipped),
          'steps_per_epoch': steps_per_epoch, 'num_train_steps': num_train_steps,
          'config': config.to_dict()}


def starting_state(config, train_ds, pipeline, steps_per_epoch: int, num_train_steps: int,
                   rng: jax.Array, resuming: bool, lookahead_settings, record_dir: str):
  """The state training starts from: fresh, then (unless resuming: a checkpoint will replace
  it) the weights a model fits or brings, config.init_from's, and the lookahead EMA of them.

  record_dir: where init_from.json records what loaded ('' on processes but the first).
  """
  model, state = steps.state_for(config, train_ds.num_classes, train_ds.image_shape,
                                 steps_per_epoch, num_train_steps, rng,
                                 pipeline.fit(train_ds.images))
  if resuming:  # a resumed run restores its own fitted and tuned weights
    return state
  state = steps.fit_model(state, model, train_ds.images, pipeline, config.seed)
  if config.init_from:
    state = finetune.load_init(state, config.init_from, record_dir)
  return steps.with_lookahead(state, lookahead_settings)


def prepare(config: ml_collections.ConfigDict, workdir: str) -> Run:
  """Data, model, optimizer, the workdir's checks, and the state to start from."""
  workdir = os.path.abspath(workdir)
  main = parallel.is_main_process()
  mesh = parallel.create_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  train_ds, val_ds, test_ds = input_pipeline.load_all_splits(config)
  pipeline = augment.create_pipeline(config.augment)
  steps_per_epoch, num_train_steps = schedules.steps_for(config, len(train_ds.labels))
  tta_eval_fn = steps.make_eval_fn(pipeline, config.tta) if config.tta else None  # names checked now

  meta = run_meta(config, train_ds, val_ds, test_ds, steps_per_epoch, num_train_steps)
  compute = lowering.resolved(config)
  logging.info('Compute on %s: XLA flags %s, convolutions %s, products %s (%s)',
               jax.default_backend(), compute['xla_cpu'], compute['conv'], compute['dtype'],
               compute['chosen_by'])
  os.makedirs(workdir, exist_ok=True)
  workdir_lib.check_workdir(workdir, meta, RESUME_KEYS)

  init_rng, train_rng = jax.random.split(jax.random.key(config.seed))
  ckpts = checkpoints.Checkpoints(workdir, config.max_checkpoints_to_keep)
  lookahead_settings = lookahead.settings(config, steps_per_epoch, num_train_steps)
  state = starting_state(config, train_ds, pipeline, steps_per_epoch, num_train_steps, init_rng,
                         ckpts.latest_step() is not None, lookahead_settings,
                         workdir if main else '')
  # Restore into the replicated template: every process reads its shards collectively.
  state = workdir_lib.restore_or_init(ckpts, parallel.replicate(state, mesh), workdir)
  if main:
    # Not part of meta's resume check: a run may resume on another machine's choice.
    workdir_lib.write_meta(workdir, dict(meta, compute=dict(compute, cpu=machine.describe())))
  # Every process needs the same records (best accuracy, early stopping decide
  # collective saves); only process 0 rewrites the file.
  records = history.truncate_after(workdir, int(state.step), rewrite=main)
  history.truncate_steps_after(workdir, int(state.step), rewrite=main)
  # steps_per_epoch lets the step derive the epoch from state.step (for
  # flip_lr(alternate=True)); the batches carry the examples' ids.
  source = batches.create(train_ds, mesh, config.batch_size, config.data.on_device,
                          pipeline=pipeline, label_smoothing=config.label_smoothing,
                          steps_per_epoch=steps_per_epoch, lookahead_settings=lookahead_settings)
  return Run(config, workdir, main, mesh, train_ds, val_ds, test_ds, steps_per_epoch,
             num_train_steps,
             meta, ckpts, state, records, source, train_rng, steps.make_eval_fn(pipeline),
             tta_eval_fn)


@dataclasses.dataclass
class Progress:
  """Where the loop is: the parts below advance it in place, so a Ctrl-C or a
  divergence anywhere finds the current state, step and epoch metrics here."""
  state: Any
  step: int
  epoch_metrics: List[Any] = dataclasses.field(default_factory=list)


class StepRecords:
  """<workdir>/steps.jsonl under config.log_step_records: a line per step.

  The lines come from the loop's per-step metrics (step, the lr it used, its
  batch's loss and accuracy) when the loop fetches them anyway (every
  log_every_steps and at the epoch's end) and before every checkpoint, so
  the file always reaches the latest checkpoint; prepare cuts it back to
  the restored step, so a resumed run's file equals an uninterrupted run's.
  """
  KEYS = ('lr', 'loss', 'accuracy')

  def __init__(self, run: Run, step: int):
    self.workdir = run.workdir
    self.enabled = run.main and run.config.get('log_step_records', False)
    self.written = step  # the file holds every step up to this one

  def write(self, p: Progress) -> None:
    """Appends the steps after the last written one up to p.step."""
    if not self.enabled or p.step <= self.written:
      return
    first = p.step - len(p.epoch_metrics)  # p.epoch_metrics[i] is step first + i + 1
    start = max(self.written, first)
    metrics = step_metrics(p.epoch_metrics[start - first:])
    history.append_steps(self.workdir, [
        dict(step=start + i + 1, **{k: m[k] for k in self.KEYS if k in m})
        for i, m in enumerate(metrics)])
    self.written = p.step


class Saver:
  """Checked saves (cnnlab.core.guards.CheckedSaves): nothing NaN is written.

  A mid-epoch save also keeps the epoch's per-step metrics so far
  (history.save_partial), so a resumed epoch's means equal the uninterrupted
  run's; the per-step records are written up to the saved step first.
  """

  def __init__(self, run: Run, guard: DivergenceGuard, records: StepRecords):
    self.run, self.guard, self.records = run, guard, records
    self.checked = CheckedSaves(run.ckpts, guard)

  def save(self, p: Progress) -> None:
    self.guard.check_state(p.step, p.state)  # before any file is written
    self.records.write(p)
    self.checked.save(p.step, p.state)
    if self.run.main and p.step % self.run.steps_per_epoch:
      history.save_partial(self.run.workdir, p.step, step_metrics(p.epoch_metrics),
                           keep=self.run.config.max_checkpoints_to_keep + 1)

  def save_best(self, p: Progress) -> None:
    self.checked.save_best(p.step, p.state)


def train_epoch(run: Run, p: Progress, guard: DivergenceGuard, saver: Saver,
                interrupt: DeferredInterrupt, records: StepRecords) -> None:
  """Steps `p` to the end of its epoch (or of training).

  A run resumed mid-epoch starts with the epoch's metrics so far.
  """
  config = run.config
  epoch, position = divmod(p.step, run.steps_per_epoch)
  order = input_pipeline.epoch_permutation(config.seed, epoch, len(run.train_ds.labels))
  last = min(run.num_train_steps, (epoch + 1) * run.steps_per_epoch)
  p.epoch_metrics = history.load_partial(run.workdir, p.step) if position else []
  if len(p.epoch_metrics) != position:
    p.epoch_metrics = []
  with ProgressBar(last - epoch * run.steps_per_epoch, f'epoch {epoch + 1}/{run.num_epochs}',
                   enabled=run.main) as bar:
    while p.step < last:
      interrupt.raise_if_requested()
      position = p.step - epoch * run.steps_per_epoch
      indices = order[position * config.batch_size:(position + 1) * config.batch_size]
      p.state, metrics = run.source.step(p.state, indices, run.train_rng)
      p.epoch_metrics.append(metrics)
      guard.add_loss(metrics['loss'])
      p.step += 1
      if p.step % config.log_every_steps == 0 or p.step == last:
        guard.check_losses(p.step)
        done = step_metrics(p.epoch_metrics)
        bar.update(p.step - epoch * run.steps_per_epoch,
                   loss=float(np.mean([m['loss'] for m in done])),
                   acc=float(np.mean([m['accuracy'] for m in done])))
        records.write(p)
      if config.checkpoint_every_steps and p.step % config.checkpoint_every_steps == 0:
        saver.save(p)


def end_epoch(run: Run, p: Progress, record: Dict[str, Any], tracker: BestTracker,
              saver: Saver) -> None:
  """Adds validation to `record` where due (saving a new best), and TTA at the end."""
  config, step = run.config, p.step
  epoch = (step - 1) // run.steps_per_epoch
  if run.has_val and ((epoch + 1) % config.eval_every_epochs == 0
                      or step == run.num_train_steps):
    val = steps.evaluate(p.state, run.val_ds, run.mesh, run.eval_fn, config.eval_batch_size)
    record.update(val_loss=val['loss'], val_accuracy=val['accuracy'])
    p.state = p.state.replace(opt_state=optimizers.after_eval(p.state.opt_state, val))
    if tracker.update(val['accuracy'], step):
      saver.save_best(p)
    if run.tta_eval_fn is not None and step == run.num_train_steps:
      val = steps.evaluate(p.state, run.val_ds, run.mesh, run.tta_eval_fn,
                           config.eval_batch_size)
      record.update(val_loss_tta=val['loss'], val_accuracy_tta=val['accuracy'])


def log_plan(run: Run) -> None:
  """What the run will do, before its first step."""
  config = run.config
  logging.info('Training %s: %d train / %d val images, %d steps/epoch, %d steps '
               '(%d epochs), batch %d on %d device(s)', config.model.name,
               len(run.train_ds.labels), len(run.val_ds.labels), run.steps_per_epoch,
               run.num_train_steps, run.num_epochs, config.batch_size, run.mesh.devices.size)
  val_note = report.val_source_note(config)
  if val_note:
    logging.warning('%s', val_note)
  if len(run.test_ds.labels):
    logging.info('Test part (%s): %d images, never trained on nor used for any decision; '
                 'evaluated once at the end on the best checkpoint.',
                 input_pipeline.test_source(config.data), len(run.test_ds.labels))


def epoch_record(run: Run, p: Progress, first_step: int, train_seconds: float,
                 previous: Dict[str, Any]) -> Dict[str, Any]:
  """The history record (cnnlab.core.history's schema) of the epoch that just ended."""
  done = step_metrics(p.epoch_metrics)
  return {
      'epoch': history.epochs_done(p.step, run.steps_per_epoch), 'step': p.step,
      'train_loss': float(np.mean([m['loss'] for m in done])),
      'train_accuracy': float(np.mean([m['accuracy'] for m in done])),
      'lr': optimizers.current_lr(p.state.opt_state),
      'examples_per_sec': (p.step - first_step) * run.config.batch_size / train_seconds,
      # Wall seconds of training steps alone (no evaluation or saving) so far.
      'train_seconds_total': previous.get('train_seconds_total', 0.0) + train_seconds,
  }


def run_epoch(run: Run, p: Progress, loop: 'Loop', previous: Dict[str, Any]) -> Dict[str, Any]:
  """One epoch: its steps, its evaluation, its save; returns its record (written)."""
  epoch_start, first_step = time.monotonic(), p.step
  train_epoch(run, p, loop.guard, loop.saver, loop.interrupt, loop.records)
  record = epoch_record(run, p, first_step, time.monotonic() - epoch_start, previous)
  end_epoch(run, p, record, loop.tracker, loop.saver)
  record['epoch_seconds'] = time.monotonic() - epoch_start
  record['elapsed_seconds'] = time.monotonic() - loop.run_start
  if not run.config.checkpoint_every_steps or p.step == run.num_train_steps:
    loop.saver.save(p)
  if run.main:
    history.append(run.workdir, record)
    loop.tb.write(record)
    logging.info('epoch %g: %s', record['epoch'], ', '.join(
        f'{k} {v:.4g}' for k, v in record.items() if k not in ('epoch', 'step')))
  return record


@dataclasses.dataclass
class Loop:
  """What the loop keeps across epochs besides the Progress."""
  guard: DivergenceGuard
  records: StepRecords
  saver: Saver
  tracker: BestTracker
  tb: Any  # tensorboard.EpochWriter
  run_start: float  # time.monotonic() when the run (across resumes) began
  interrupt: Any = None  # the DeferredInterrupt, once the loop runs

  @classmethod
  def start(cls, run: Run, p: Progress) -> 'Loop':
    guard = DivergenceGuard(run.workdir, p.step, last_good=run.ckpts.latest_step())
    records = StepRecords(run, p.step)
    elapsed = run.records[-1].get('elapsed_seconds', 0.0) if run.records else 0.0
    return cls(guard, records, Saver(run, guard, records),
               BestTracker('val_accuracy', run.config.early_stopping_patience).replay(run.records),
               tensorboard.EpochWriter(run.workdir, run.records, enabled=run.main),
               time.monotonic() - elapsed)


def finish(run: Run, p: Progress, loop: Loop) -> None:
  """After the last epoch: the last save, then the report and the one test evaluation."""
  loop.saver.save(p)
  if not run.has_val:
    loop.saver.save_best(p)  # nothing to choose by: the best is the last
  loop.interrupt.raise_if_requested()  # Ctrl-C during the last step: saved, now exit
  loop.tb.close()
  state, step = p.state, p.step
  if len(run.test_ds.labels) or (run.config.report and run.has_val):
    state, step = chosen_checkpoint(run.ckpts, p.state)
  # <workdir>/report/: the best checkpoint's figures and per-class table on val.
  write_report(run, state, step)
  # Only now, once, the test part: <workdir>/eval_test.json.
  evaluate_test(run, state, step)
  run.ckpts.close()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> Dict[str, Any]:
  """Trains config's model on config's data; checkpoints and metrics go to workdir.

  Returns the final history record (the last epoch's metrics).
  """
  run = prepare(config, workdir)
  log_plan(run)
  p = Progress(run.state, int(run.state.step))
  loop = Loop.start(run, p)
  record = run.records[-1] if run.records else {}
  with interruptible(run.ckpts, lambda: loop.saver.save(p), lambda: p.step) as interrupt:
    loop.interrupt = interrupt  # Ctrl-C lands between steps
    while p.step < run.num_train_steps and not loop.tracker.should_stop:
      record = run_epoch(run, p, loop, record)
      if loop.tracker.should_stop:
        logging.info('Early stopping: val accuracy has not improved for %d evaluations '
                     '(best %.4f).', loop.tracker.evals_since_best, loop.tracker.best)
  finish(run, p, loop)
  return record
