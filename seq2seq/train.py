"""Training and free-running evaluation of the arithmetic seq2seq models.

Small pure functions (`create_train_state`, `train_step`, `eval_step`,
`compute_metrics`) and the loop that ties them together
(`train_and_evaluate`). The whole problem set lives on the device; a step
gathers its batch there by index. Step k of epoch e always trains on the same
examples (a permutation of fold_in(seed, e)), so a run resumed from a
checkpoint repeats the uninterrupted one exactly.

Data parallel as in cnnlab (`cnnlab.core.parallel`): a 1-D mesh of every device of
every process, parameters and the (small, generated) problem set replicated,
the batch indices sharded along 'data'. Every process generates the same
problems from the seed; only process 0 prints and writes metrics.
"""
import dataclasses
import functools
import json
import logging
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cnnlab import optimizers
from cnnlab.core import history
from cnnlab.core import parallel
from cnnlab.core import train_state as core_train_state
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.best import BestTracker
from cnnlab.core.checkpoints import Checkpoints
from cnnlab.core.errors import UserError
from cnnlab.core.guards import CheckedSaves, DivergenceGuard, interruptible
from cnnlab.core.guards import TrainingDiverged  # what the loop raises (callers catch it here)
from cnnlab.core.progress import ProgressBar
from seq2seq import input_pipeline
from seq2seq import models

# Config fields a resumed run may change; any other difference is a different experiment
# (cnnlab.core.workdir.check_workdir refuses it).
RESUMABLE_FIELDS = ('num_epochs', 'num_train_steps', 'target_accuracy', 'num_samples',
                    'log_every_steps', 'eval_batch_size', 'max_checkpoints_to_keep')

Batch = Dict[str, jax.Array]  # inputs int32 [B, Tq], targets int32 [B, Ta]


# ---- optimizer ------------------------------------------------------------------

def create_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int,
                     num_train_steps: int) -> optax.GradientTransformation:
  """cnnlab.optimizers' optimizer from config.optimizer and config.schedule.

  The sections are cnnlab's own (configs/base.py), so each field means what
  it means in cnnlab. Memoized on those fields: the optimizer is a static part
  of the TrainState, so equal configs share compiled steps within a process.
  """
  if config.schedule.name == 'constant':
    steps_per_epoch, num_train_steps = 1, 1  # unused: runs of any length share compiled steps
  key = ml_collections.FrozenConfigDict({
      'optimizer': config.optimizer, 'schedule': config.schedule,
      'batch_size': config.batch_size, 'num_epochs': config.num_epochs,
      'num_train_steps': config.num_train_steps, 'freeze': ''})
  return _create_optimizer(key, steps_per_epoch, num_train_steps)


@functools.lru_cache(maxsize=16)
def _create_optimizer(config: ml_collections.FrozenConfigDict, steps_per_epoch: int,
                      num_train_steps: int):
  return optimizers.create_optimizer(config, steps_per_epoch, num_train_steps)


# ---- state and steps ------------------------------------------------------------

def create_model(config: ml_collections.ConfigDict):
  """The model config.model.name, sized for config.operation and num_digits."""
  return _create_model(config.model.name, len(input_pipeline.vocabulary(config.operation)),
                       input_pipeline.answer_length(config.num_digits),
                       config.model.hidden_size, config.model.unroll,
                       config.model.get('recurrent_activation', 'sigmoid'))


@functools.lru_cache(maxsize=16)
def _create_model(name, vocab_size, answer_length, hidden_size, unroll, recurrent_activation):
  return models.create_model(name, vocab_size=vocab_size, answer_length=answer_length,
                             hidden_size=hidden_size, unroll=unroll,
                             recurrent_activation=recurrent_activation)


def create_train_state(config: ml_collections.ConfigDict, model, query_length: int,
                       steps_per_epoch: int, num_train_steps: int,
                       rng: jax.Array) -> train_state.TrainState:
  """Initial parameters (from `rng`) and optimizer state (cnnlab.core.train_state.create)."""
  return core_train_state.create(
      train_state.TrainState, model, rng, jnp.zeros((1, query_length), jnp.int32),
      create_optimizer(config, steps_per_epoch, num_train_steps))


def compute_metrics(logits: jax.Array, targets: jax.Array,
                    mask: Optional[jax.Array] = None) -> Dict[str, jax.Array]:
  """Sums over the (unmasked) examples of a batch; divide by `count`.

  Args:
    logits: float32 [B, Ta, V].
    targets: int32 [B, Ta].
    mask: float32 [B], 0 for padding examples; None = all real.

  Returns:
    loss (mean over characters, summed over examples), char_correct (fraction
    of characters right, summed), exact (1 if every character is right,
    summed) and count.
  """
  if mask is None:
    mask = jnp.ones(targets.shape[0], jnp.float32)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean(-1)
  correct = logits.argmax(-1) == targets
  return {'loss': (loss * mask).sum(),
          'char_correct': (correct.mean(-1) * mask).sum(),
          'exact': (correct.all(-1) * mask).sum(),
          'count': mask.sum()}


def train_step(state: train_state.TrainState,
               batch: Batch) -> Tuple[train_state.TrainState, Dict[str, jax.Array]]:
  """One optimizer step on the mean cross-entropy over all answer characters.

  Teacher-forced models see the true answer prefix here, so the returned
  metrics (sums, see compute_metrics) are teacher-forced ones.
  """

  def loss_fn(params):
    logits = state.apply_fn({'params': params}, batch['inputs'], batch['targets'])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch['targets']).mean()
    return loss, logits

  (_, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  return state.apply_gradients(grads=grads), compute_metrics(logits, batch['targets'])


@jax.jit
def train_step_on(state, data: Batch, indices: jax.Array):
  """train_step on the examples `indices` (int32 [B]) of the device-resident `data`.

  With `data` replicated and `indices` sharded along the mesh's batch axis, the
  gathered batch is sharded too: each device trains on its rows.
  """
  return train_step(state, jax.tree_util.tree_map(lambda x: x[indices], data))


@functools.partial(jax.jit, static_argnums=0)
def eval_step(apply_fn, params, batch: Batch) -> Tuple[Dict[str, jax.Array], jax.Array]:
  """Free-running (greedy) predictions int32 [B, Ta] and their metric sums."""
  logits = apply_fn({'params': params}, batch['inputs'])
  return compute_metrics(logits, batch['targets'], batch['mask']), logits.argmax(-1)


def evaluate(eval_fn, params, split: input_pipeline.Split, batch_size: int,
             mesh=None) -> Tuple[Dict[str, float], np.ndarray]:
  """Metrics over the WHOLE split (last batch padded and masked) and all predictions.

  Each batch is sharded over `mesh` (default: every device); each process
  feeds only its rows of it. The batch size is rounded up to a multiple of the
  device count (padding rows are masked, so the metrics stay exact).
  """
  mesh = parallel.create_mesh() if mesh is None else mesh
  n, devices = len(split), mesh.devices.size
  batch_size = -(-min(batch_size, n) // devices) * devices
  rows = parallel.process_rows(batch_size, mesh)
  totals, predictions = None, []
  for start in range(0, n, batch_size):
    inputs = split.inputs[start:start + batch_size]
    targets = split.targets[start:start + batch_size]
    real = len(inputs)
    pad = batch_size - real  # one shape for every batch: one compilation
    batch = {'inputs': np.pad(inputs, ((0, pad), (0, 0))),
             'targets': np.pad(targets, ((0, pad), (0, 0))),
             'mask': (np.arange(batch_size) < real).astype(np.float32)}
    local = {k: v[rows[0]:rows[1]] for k, v in batch.items()}
    sums, pred = eval_fn(params, parallel.global_batch(local, mesh))
    totals = sums if totals is None else jax.tree_util.tree_map(jnp.add, totals, sums)
    predictions.append(parallel.fetch(pred)[:real])
  return mean_metrics(totals), np.concatenate(predictions)


def mean_metrics(sums: Dict[str, Any]) -> Dict[str, float]:
  """Metric sums -> means, named as cnnlab names them: `accuracy` is exact match
  (every answer character right), `char_accuracy` per character."""
  sums = parallel.fetch(sums)
  count = float(sums['count'])
  return {'loss': float(sums['loss']) / count,
          'accuracy': float(sums['exact']) / count,
          'char_accuracy': float(sums['char_correct']) / count}


# ---- reporting -------------------------------------------------------------------

def format_sample(question: str, truth: str, guess: str, num_digits: int,
                  color: bool = False) -> str:
  """`Q 535-71  T 464  ☑ 464` (☒ when wrong; green / red when `color`)."""
  ok = guess == truth
  mark = '\u2611' if ok else '\u2612'
  if color:
    mark = f'\033[{"92" if ok else "91"}m{mark}\033[0m'
  q = question.ljust(input_pipeline.query_length(num_digits))
  t = truth.ljust(input_pipeline.answer_length(num_digits))
  return f'Q {q}  T {t}  {mark} {guess}'


def sample_lines(dataset: input_pipeline.Dataset, predictions: np.ndarray,
                 indices: np.ndarray, color: bool) -> List[str]:
  split = dataset.val
  return [format_sample(split.question(i), split.answer(i),
                        dataset.decode_answer(predictions[i]), dataset.num_digits, color)
          for i in indices]


def check_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Refuses a workdir holding another experiment (any config field but RESUMABLE_FIELDS
  differs), then records this run's meta.json (converting an old workdir's config.json)."""
  meta = {'lab': 'seq2seq', 'model': config.model.name, 'config': json.loads(config.to_json())}
  workdir_lib.check_workdir(workdir, meta,
                            workdir_lib.config_keys(meta['config'], RESUMABLE_FIELDS))
  if parallel.is_main_process():
    workdir_lib.write_meta(workdir, meta)
    legacy = os.path.join(workdir, workdir_lib.LEGACY_CONFIG_FILE)
    if os.path.exists(legacy):  # a workdir written before meta.json: now converted
      os.remove(legacy)
      logging.info('Converted %s to %s', legacy, workdir_lib.META_FILE)


# ---- the loop --------------------------------------------------------------------

def evaluation_record(state, eval_fn, dataset: input_pipeline.Dataset, train_sums,
                      step: int, steps_per_epoch: int, config, mesh):
  """(record, val predictions): train means, then val and test, free-running.

  Keys as cnnlab's: train_/val_/test_ loss, accuracy (exact match) and
  char_accuracy, lr, examples_per_sec and elapsed_seconds (added by the caller).
  """
  val, predictions = evaluate(eval_fn, state.params, dataset.val, config.eval_batch_size, mesh)
  test, _ = evaluate(eval_fn, state.params, dataset.test, config.eval_batch_size, mesh)
  record = {'step': step, 'epoch': history.epochs_done(step, steps_per_epoch),
            'examples': step * config.batch_size,
            **{f'train_{k}': v for k, v in mean_metrics(train_sums).items()},
            **{f'val_{k}': v for k, v in val.items()},
            **{f'test_{k}': v for k, v in test.items()},
            'lr': optimizers.current_lr(state.opt_state)}
  return record, predictions


@dataclasses.dataclass
class Run:
  """What a training run fixes before its first step (see prepare)."""
  config: ml_collections.ConfigDict
  workdir: str
  main: bool  # process 0: the one that prints and writes metrics
  say: Any  # print, or nothing on other processes / when quiet
  dataset: input_pipeline.Dataset
  mesh: Any
  steps_per_epoch: int
  num_train_steps: int
  eval_every: int
  ckpts: Checkpoints
  order_key: jax.Array


def prepare(config: ml_collections.ConfigDict, workdir: str, verbose: bool):
  """(run, state, records): problems, model, the workdir's checks, the state to start from."""
  main = parallel.is_main_process()
  say = functools.partial(print, flush=True) if verbose and main else lambda *_: None
  dataset = input_pipeline.create_dataset(config)
  if config.batch_size > len(dataset.train):
    raise UserError(f'batch_size={config.batch_size} exceeds the {len(dataset.train)} '
                    'training problems (train_size - val_size).')
  mesh = parallel.create_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  steps_per_epoch = len(dataset.train) // config.batch_size
  num_train_steps = (config.num_train_steps if config.num_train_steps > 0
                     else config.num_epochs * steps_per_epoch)
  init_key, order_key = jax.random.split(jax.random.key(config.seed))
  state = create_train_state(config, create_model(config), dataset.query_length,
                             steps_per_epoch, num_train_steps, init_key)
  state = parallel.replicate(state, mesh)  # restoring into it reads the shards collectively
  os.makedirs(workdir, exist_ok=True)
  check_workdir(config, workdir)
  ckpts = Checkpoints(workdir, config.max_checkpoints_to_keep)
  if ckpts.latest_step() is not None:
    state = workdir_lib.restore_or_init(ckpts, state, workdir)
    say(f'Resuming from step {int(state.step)} in {workdir}')
  records = history.truncate_after(workdir, int(state.step), rewrite=main)
  say(f'{config.model.name}: {models.count_params(state.params):,} params; '
      f'{len(dataset.train):,} train / {len(dataset.val):,} val / {len(dataset.test):,} test '
      f'{config.num_digits}-digit {config.operation!r} problems; '
      f'{num_train_steps:,} steps of {config.batch_size} ({steps_per_epoch} per epoch)')
  run = Run(config, workdir, main, say, dataset, mesh, steps_per_epoch, num_train_steps,
            config.eval_every_steps or steps_per_epoch, ckpts, order_key)
  return run, state, records


def after_evaluation(run: Run, loop: 'Loop', state, record: Dict[str, Any],
                     predictions: np.ndarray):
  """Plateau hook, checked save (and best), the history line and the printed samples."""
  config, step = run.config, record['step']
  state = state.replace(opt_state=optimizers.after_eval(
      state.opt_state, {'loss': record['val_loss'], 'accuracy': record['val_accuracy']}))
  loop.saves.save(step, state)  # nothing NaN is saved
  if loop.tracker.update(record['val_accuracy'], step):
    loop.saves.save_best(step, state)
  if run.main:
    history.append(run.workdir, record)
  run.say(f'step {step} (epoch {record["epoch"]:.2f}, {record["elapsed_seconds"]:.0f}s, '
          f'{record["examples_per_sec"]:,.0f} examples/s): train loss {record["train_loss"]:.4f}'
          f' | val exact {record["val_accuracy"]:.2%} char {record["val_char_accuracy"]:.2%} '
          f'| test exact {record["test_accuracy"]:.2%}')
  val = run.dataset.val
  shown = np.random.default_rng([config.seed, step]).choice(
      len(val), min(config.num_samples, len(val)), replace=False)
  for line in sample_lines(run.dataset, predictions, shown, loop.color):
    run.say('  ' + line)
  return state


@dataclasses.dataclass
class Loop:
  """Where the loop is (state and step, advanced together, so a Ctrl-C anywhere saves
  a state under its own step) and what it keeps between evaluations."""
  state: Any
  step: int
  tracker: BestTracker
  guard: DivergenceGuard
  saves: CheckedSaves
  data: Batch  # the training problems, replicated on the devices
  eval_fn: Any
  color: bool  # colour the samples' check marks
  elapsed0: float  # elapsed_seconds before this process started
  t0: float
  sums: Any = None  # the train metric sums since the last evaluation
  window: Tuple[int, float] = (0, 0.0)  # (step, time) of the last evaluation
  batches: Tuple[Any, Any] = (None, None)  # (epoch, its batch indices)

  @classmethod
  def start(cls, run: Run, state, records, verbose: bool) -> 'Loop':
    step = int(state.step)
    guard = DivergenceGuard(run.workdir, step, last_good=run.ckpts.latest_step())
    now = time.monotonic()
    data = parallel.replicate({'inputs': run.dataset.train.inputs,
                               'targets': run.dataset.train.targets}, run.mesh)
    return cls(state, step, BestTracker('val_accuracy').replay(records), guard,
               CheckedSaves(run.ckpts, guard), data, functools.partial(eval_step, state.apply_fn),
               verbose and run.main and sys.stdout.isatty(),
               records[-1].get('elapsed_seconds', 0.0) if records else 0.0, now,
               window=(step, now))


def train_one_step(run: Run, loop: Loop, bar: ProgressBar) -> None:
  """Advances loop.state by the step loop.step of its epoch's order; the guard gets its loss."""
  config, rows = run.config, parallel.process_rows(run.config.batch_size, run.mesh)
  epoch, offset = divmod(loop.step, run.steps_per_epoch)
  if loop.batches[0] != epoch:
    loop.batches = (epoch, np.asarray(input_pipeline.epoch_batches(
        run.order_key, epoch, len(run.dataset.train), config.batch_size), np.int32))
  indices = parallel.global_batch({'i': loop.batches[1][offset, rows[0]:rows[1]]}, run.mesh)['i']
  loop.state, metrics = train_step_on(loop.state, loop.data, indices)
  loop.step += 1  # with the state, before anything below can be interrupted
  loop.guard.add_loss(metrics['loss'])  # a sum over the batch: NaN if any example's is
  loop.sums = metrics if loop.sums is None else jax.tree_util.tree_map(jnp.add, loop.sums, metrics)
  if loop.step % config.log_every_steps == 0 or loop.step == run.num_train_steps:
    loop.guard.check_losses(loop.step)
    bar.update(loop.step, loss=float(parallel.fetch(metrics['loss'] / metrics['count'])))


def evaluate_now(run: Run, loop: Loop) -> Dict[str, Any]:
  """The record of loop.step's evaluation, saved and written (after_evaluation)."""
  config, step = run.config, loop.step
  record, predictions = evaluation_record(loop.state, loop.eval_fn, run.dataset, loop.sums, step,
                                          run.steps_per_epoch, config, run.mesh)
  now = time.monotonic()
  record['examples_per_sec'] = round((step - loop.window[0]) * config.batch_size
                                     / (now - loop.window[1]), 1)
  record['elapsed_seconds'] = round(loop.elapsed0 + now - loop.t0, 2)
  loop.state = after_evaluation(run, loop, loop.state, record, predictions)
  loop.sums, loop.window = None, (step, time.monotonic())
  return record


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       verbose: bool = True) -> Dict[str, Any]:
  """Trains, deciding on the val split and reporting the test set; resumes from `workdir`.

  Args:
    config: see configs/seq2seq/base.py.
    workdir: checkpoints, meta.json and metrics.jsonl (one line per evaluation).
    verbose: print evaluations, samples and the progress bar.

  Returns:
    The last evaluation record (as appended to metrics.jsonl), plus 'state'.

  Raises:
    UserError: a bad config, a workdir holding another experiment, or
      TrainingDiverged (nothing NaN is ever saved).
    KeyboardInterrupt: after saving a checkpoint of the last finished step.
  """
  run, state, records = prepare(config, workdir, verbose)
  loop = Loop.start(run, state, records, verbose)
  record = records[-1] if records else {}
  if config.target_accuracy and loop.tracker.best >= config.target_accuracy:
    run.say(f'Target {config.target_accuracy:.2%} already reached at step '
            f'{loop.tracker.best_step}.')
    run.ckpts.close()
    return dict(record, state=state)
  if loop.step >= run.num_train_steps:
    run.say(f'Already trained for {loop.step:,} of {run.num_train_steps:,} steps; raise '
            '--config.num_epochs or --config.num_train_steps to continue.')
  bar = ProgressBar(run.num_train_steps, desc='train', enabled=verbose and run.main)
  # The bar (inner) is closed before an interruption is said.
  with interruptible(run.ckpts, lambda: loop.saves.save(loop.step, loop.state),
                     lambda: loop.step, say=run.say) as interrupt, bar:
    while loop.step < run.num_train_steps:
      interrupt.raise_if_requested()
      train_one_step(run, loop, bar)
      if loop.step % run.eval_every == 0 or loop.step == run.num_train_steps:
        bar.close()
        record = evaluate_now(run, loop)
        if config.target_accuracy and record['val_accuracy'] >= config.target_accuracy:
          run.say(f'Reached {config.target_accuracy:.2%} val exact match at step {loop.step} '
                  f'({loop.step * config.batch_size:,} examples, '
                  f'{record["elapsed_seconds"]:.0f}s); test exact match '
                  f'{record["test_accuracy"]:.2%}.')
          break
  run.ckpts.close()
  return dict(record, state=loop.state)


# ---- using a trained model ------------------------------------------------------

def predict(workdir: str, questions: List[str], best: bool = True,
            color: bool = False) -> List[Tuple[str, str]]:
  """Greedy answers of the run in `workdir` to `questions` like '535-71'.

  Args:
    workdir: a training run's workdir.
    questions: problems of the trained operation(s) and size.
    best: use the best checkpoint (by val exact match), else the latest.
    color: colour the check marks of the returned lines.

  Returns:
    (answer, line) per question; `line` is the sample format with the truth.
  """
  _, config = workdir_lib.load_config(workdir, lab='seq2seq')
  parsed = [input_pipeline.parse_question(q, config.num_digits, config.operation)
            for q in questions]
  model = create_model(config)
  table = input_pipeline.CharacterTable(input_pipeline.vocabulary(config.operation))
  template = create_train_state(config, model, input_pipeline.query_length(config.num_digits),
                                1, 1, jax.random.key(0))
  state = workdir_lib.restore_chosen(workdir, template, best=best)
  texts = [f'{a}{op}{b}' for a, op, b in parsed]
  inputs = input_pipeline.encode_questions(table, texts, config.num_digits,
                                           config.reverse_input)
  ids = np.asarray(jax.jit(model.apply)({'params': state.params}, inputs).argmax(-1))
  out = []
  for (a, op, b), text, row in zip(parsed, texts, ids):
    guess = input_pipeline.decode_answer(table, row, config.reverse_target)
    truth = str(input_pipeline.apply(op, a, b))
    out.append((guess, format_sample(text, truth, guess, config.num_digits, color)))
  return out
