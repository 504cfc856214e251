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
import functools
import json
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

from cnnlab.core import history
from cnnlab.core import parallel
from cnnlab.core.checkpoints import Checkpoints
from cnnlab.core.errors import UserError
from cnnlab.core.progress import ProgressBar
from cnnlab.core.registry import Registry
from seq2seq import input_pipeline
from seq2seq import models

OPTIMIZERS = Registry('optimizer', 'optimizer.name')
SCHEDULES = Registry('schedule', 'schedule.name')
CONFIG_FILE = 'config.json'
# Fields a resumed run may change; any other difference is a different experiment.
RESUMABLE_FIELDS = ('num_epochs', 'num_train_steps', 'target_accuracy', 'num_samples',
                    'log_every_steps', 'eval_batch_size', 'max_checkpoints_to_keep')

Batch = Dict[str, jax.Array]  # inputs int32 [B, Tq], targets int32 [B, Ta]


# ---- optimizer ------------------------------------------------------------------

@OPTIMIZERS.register('adam')
def _adam(config, lr):
  return optax.adam(lr)


@OPTIMIZERS.register('adamw')
def _adamw(config, lr):
  return optax.adamw(lr, weight_decay=config.optimizer.weight_decay)


@OPTIMIZERS.register('sgd')
def _sgd(config, lr):
  return optax.sgd(lr, momentum=config.optimizer.momentum or None)


@OPTIMIZERS.register('rmsprop')
def _rmsprop(config, lr):
  return optax.rmsprop(lr, momentum=config.optimizer.momentum)


@SCHEDULES.register('constant')
def _constant(config, num_train_steps):
  return optax.constant_schedule(config.optimizer.lr)


@SCHEDULES.register('cosine')
def _cosine(config, num_train_steps):
  return optax.cosine_decay_schedule(config.optimizer.lr, num_train_steps)


@SCHEDULES.register('warmup_cosine')
def _warmup_cosine(config, num_train_steps):
  warmup = config.schedule.warmup_steps
  return optax.warmup_cosine_decay_schedule(0.0, config.optimizer.lr, warmup,
                                            max(num_train_steps, warmup + 1))


def create_optimizer(config: ml_collections.ConfigDict,
                     num_train_steps: int) -> optax.GradientTransformation:
  """config.optimizer.name on config.schedule.name, with optional clipping."""
  if config.schedule.name == 'constant':
    num_train_steps = 0  # unused: lets runs of any length share compiled steps
  return _create_optimizer(
      ml_collections.FrozenConfigDict({'optimizer': config.optimizer,
                                       'schedule': config.schedule}), num_train_steps)


# Memoized (as is create_model): the optimizer and model are static parts of
# the TrainState, so equal configs then share compiled steps within a process.
@functools.lru_cache(maxsize=16)
def _create_optimizer(config: ml_collections.FrozenConfigDict, num_train_steps: int):
  schedule = SCHEDULES.get(config.schedule.name)(config, num_train_steps)
  tx = OPTIMIZERS.get(config.optimizer.name)(config, schedule)
  if config.optimizer.grad_clip_norm:
    tx = optax.chain(optax.clip_by_global_norm(config.optimizer.grad_clip_norm), tx)
  return tx


# ---- state and steps ------------------------------------------------------------

def create_model(config: ml_collections.ConfigDict):
  """The model config.model.name, sized for config.operation and num_digits."""
  return _create_model(config.model.name, len(input_pipeline.vocabulary(config.operation)),
                       input_pipeline.answer_length(config.num_digits),
                       config.model.hidden_size, config.model.unroll)


@functools.lru_cache(maxsize=16)
def _create_model(name, vocab_size, answer_length, hidden_size, unroll):
  return models.create_model(name, vocab_size=vocab_size, answer_length=answer_length,
                             hidden_size=hidden_size, unroll=unroll)


def create_train_state(config: ml_collections.ConfigDict, model, query_length: int,
                       num_train_steps: int, rng: jax.Array) -> train_state.TrainState:
  """Initial parameters (from `rng`) and optimizer state."""
  params = model.init(rng, jnp.zeros((1, query_length), jnp.int32))['params']
  return train_state.TrainState.create(apply_fn=model.apply, params=params,
                                       tx=create_optimizer(config, num_train_steps))


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
  sums = parallel.fetch(sums)
  count = float(sums['count'])
  return {'loss': float(sums['loss']) / count,
          'char_accuracy': float(sums['char_correct']) / count,
          'exact_match': float(sums['exact']) / count}


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
  split = dataset.test
  return [format_sample(split.question(i), split.answer(i),
                        dataset.decode_answer(predictions[i]), dataset.num_digits, color)
          for i in indices]


def _check_config(config: ml_collections.ConfigDict, workdir: str, resuming: bool) -> None:
  """Writes config.json; a resumed run must not change the experiment."""
  path = os.path.join(workdir, CONFIG_FILE)
  current = json.loads(config.to_json())
  if resuming and os.path.exists(path):
    with open(path) as f:
      saved = json.load(f)
    flat = lambda d, p='': {k2: v2 for k, v in d.items() for k2, v2 in (
        flat(v, f'{p}{k}.').items() if isinstance(v, dict) else [(p + k, v)])}
    old, new = flat(saved), flat(current)
    changed = [f'{k}: {old.get(k)!r} -> {new.get(k)!r}' for k in sorted(set(old) | set(new))
               if old.get(k) != new.get(k) and k not in RESUMABLE_FIELDS]
    if changed:
      raise UserError(f'{workdir} holds a run with a different config ({"; ".join(changed)}). '
                      'Use a new --workdir, or the same config to resume.')
  if parallel.is_main_process():
    with open(path, 'w') as f:
      json.dump(current, f, indent=2)


# ---- the loop --------------------------------------------------------------------

def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       verbose: bool = True) -> Dict[str, Any]:
  """Trains, evaluating on the held-out set; resumes from `workdir` if it has a checkpoint.

  Args:
    config: see configs/seq2seq/base.py.
    workdir: checkpoints, config.json and metrics.jsonl (one line per evaluation).
    verbose: print evaluations, samples and the progress bar.

  Returns:
    The last evaluation record (as appended to metrics.jsonl), plus 'state'.

  Raises:
    UserError: a bad config, a NaN loss, or a workdir holding another experiment.
    KeyboardInterrupt: after saving a checkpoint of the last finished step.
  """
  main = parallel.is_main_process()
  verbose = verbose and main  # one voice per cluster
  say = functools.partial(print, flush=True) if verbose else lambda *_: None
  dataset = input_pipeline.create_dataset(config)
  if config.batch_size > config.train_size:
    raise UserError(f'batch_size={config.batch_size} exceeds train_size={config.train_size}.')
  mesh = parallel.create_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  rows = parallel.process_rows(config.batch_size, mesh)
  steps_per_epoch = config.train_size // config.batch_size
  num_train_steps = (config.num_train_steps if config.num_train_steps > 0
                     else config.num_epochs * steps_per_epoch)
  eval_every = config.eval_every_steps or steps_per_epoch

  key = jax.random.key(config.seed)
  init_key, order_key = jax.random.split(key)
  model = create_model(config)
  state = create_train_state(config, model, dataset.query_length, num_train_steps, init_key)
  # Restoring into a replicated template reads the shards collectively.
  state = parallel.replicate(state, mesh)

  os.makedirs(workdir, exist_ok=True)
  ckpts = Checkpoints(workdir, config.max_checkpoints_to_keep)
  start = ckpts.latest_step()
  _check_config(config, workdir, resuming=start is not None)
  records = []
  if start is not None:
    state = ckpts.restore(state)
    records = history.truncate_after(workdir, start, rewrite=main)
    say(f'Resuming from step {start} in {workdir}')
  start = int(state.step)
  best = max((r['test_exact_match'] for r in records), default=-1.0)
  elapsed0 = records[-1]['elapsed_s'] if records else 0.0
  say(f'{config.model.name}: {models.count_params(state.params):,} params; '
      f'{len(dataset.train):,} train / {len(dataset.test):,} held-out '
      f'{config.num_digits}-digit {config.operation!r} problems; '
      f'{num_train_steps:,} steps of {config.batch_size} ({steps_per_epoch} per epoch)')

  if records and config.target_accuracy and records[-1]['test_exact_match'] >= config.target_accuracy:
    say(f'Target {config.target_accuracy:.2%} already reached at step {records[-1]["step"]}.')
    ckpts.close()
    return dict(records[-1], state=state)

  data = parallel.replicate({'inputs': dataset.train.inputs,
                             'targets': dataset.train.targets}, mesh)
  eval_fn = functools.partial(eval_step, state.apply_fn)
  color = verbose and sys.stdout.isatty()
  if start >= num_train_steps:
    say(f'Already trained for {start:,} of {num_train_steps:,} steps; raise '
        '--config.num_epochs or --config.num_train_steps to continue.')
  bar = ProgressBar(num_train_steps, desc='train', enabled=verbose)
  t0 = t_window = time.monotonic()
  window_start = start  # throughput is measured between evaluations
  sums, epoch_cache = None, (None, None)
  record = records[-1] if records else {}
  step = start
  try:
    while step < num_train_steps:
      epoch, offset = divmod(step, steps_per_epoch)
      if epoch_cache[0] != epoch:
        epoch_cache = (epoch, np.asarray(input_pipeline.epoch_batches(
            order_key, epoch, config.train_size, config.batch_size), np.int32))
      indices = parallel.global_batch({'i': epoch_cache[1][offset, rows[0]:rows[1]]}, mesh)['i']
      state, metrics = train_step_on(state, data, indices)
      sums = metrics if sums is None else jax.tree_util.tree_map(jnp.add, sums, metrics)
      step += 1
      if step % config.log_every_steps == 0 or step == num_train_steps:
        loss = float(parallel.fetch(metrics['loss'] / metrics['count']))
        if not np.isfinite(loss):
          raise UserError(f'The loss is {loss} at step {step}: lower --config.optimizer.lr '
                          'or set --config.optimizer.grad_clip_norm.')
        bar.update(step, loss=loss)
      if step % eval_every and step != num_train_steps:
        continue
      # ---- evaluation: the whole held-out set, free-running -------------------
      train_metrics = mean_metrics(sums)  # also waits for the last step
      examples_per_s = (step - window_start) * config.batch_size / (time.monotonic() - t_window)
      sums = None
      test_metrics, predictions = evaluate(eval_fn, state.params, dataset.test,
                                           config.eval_batch_size, mesh)
      elapsed = elapsed0 + time.monotonic() - t0
      record = {'step': step, 'epoch': step / steps_per_epoch,
                'examples': step * config.batch_size,
                **{f'train_{k}': v for k, v in train_metrics.items()},
                **{f'test_{k}': v for k, v in test_metrics.items()},
                'examples_per_s': round(examples_per_s, 1), 'elapsed_s': round(elapsed, 2)}
      if main:
        history.append(workdir, record)
      ckpts.save(step, state)
      if test_metrics['exact_match'] > best:
        best = test_metrics['exact_match']
        ckpts.save_best(step, state)
      t_window, window_start = time.monotonic(), step
      bar.close()
      say(f'step {step} (epoch {step / steps_per_epoch:.2f}, {elapsed:.0f}s, '
          f'{examples_per_s:,.0f} examples/s): '
          f'train loss {train_metrics["loss"]:.4f} | held-out exact '
          f'{test_metrics["exact_match"]:.2%} char {test_metrics["char_accuracy"]:.2%} '
          f'loss {test_metrics["loss"]:.4f}')
      rng = np.random.default_rng([config.seed, step])
      shown = rng.choice(len(dataset.test), min(config.num_samples, len(dataset.test)),
                         replace=False)
      for line in sample_lines(dataset, predictions, shown, color):
        say('  ' + line)
      if config.target_accuracy and test_metrics['exact_match'] >= config.target_accuracy:
        say(f'Reached {config.target_accuracy:.2%} held-out exact match at step {step} '
            f'({step * config.batch_size:,} examples, {elapsed:.0f}s).')
        break
  except KeyboardInterrupt:
    bar.close()
    ckpts.save(int(state.step), state)
    ckpts.close()
    say(f'Interrupted: saved step {int(state.step)} in {workdir}; rerun to resume.')
    raise
  bar.close()
  ckpts.close()
  return dict(record, state=state)


# ---- using a trained model ------------------------------------------------------

def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run in `workdir` was trained with (its config.json)."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise UserError(f'{workdir} holds no trained run ({CONFIG_FILE} is missing).')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def predict(workdir: str, questions: List[str], best: bool = True,
            color: bool = False) -> List[Tuple[str, str]]:
  """Greedy answers of the run in `workdir` to `questions` like '535-71'.

  Args:
    workdir: a training run's workdir.
    questions: problems of the trained operation(s) and size.
    best: use the best checkpoint (by held-out exact match), else the latest.
    color: colour the check marks of the returned lines.

  Returns:
    (answer, line) per question; `line` is the sample format with the truth.
  """
  config = load_config(workdir)
  parsed = [input_pipeline.parse_question(q, config.num_digits, config.operation)
            for q in questions]
  model = create_model(config)
  table = input_pipeline.CharacterTable(input_pipeline.vocabulary(config.operation))
  template = create_train_state(config, model, input_pipeline.query_length(config.num_digits),
                                1, jax.random.key(0))
  ckpts = Checkpoints(workdir)
  best = best and ckpts.best_step() is not None
  if (ckpts.best_step() if best else ckpts.latest_step()) is None:
    raise UserError(f'{workdir} has no checkpoint yet.')
  state = ckpts.restore(template, best=best)
  ckpts.close()
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
