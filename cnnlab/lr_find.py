r"""LR range test (Smith 2017, sec. 3.3): train briefly while the lr grows.

  python -m cnnlab.lr_find --config=configs/vgg.py --out=runs/lr_find_vgg \
      --min_lr=1e-6 --max_lr=1 --num_steps=200
  python -m cnnlab.lr_find --config=configs/cnn.py --out=runs/lr_find_linear \
      --sweep=linear --min_lr=1e-3 --max_lr=0.1 --num_steps=400   # seed 000's linear ramp

From the run's initial weights (config.seed; config.init_from if set) it takes
one optimizer step per lr, lr_i = min_lr * (max_lr / min_lr) ** (i / (N - 1))
(--sweep=exponential, the default) or min_lr + (max_lr - min_lr) i / (N - 1)
(--sweep=linear), with the config's optimizer, regularizers, augmentation
and freeze, and stops early once the smoothed loss exceeds `diverge` times its minimum (checked every
10 steps, so up to 9 steps past the divergence point are shown). Nothing is
read from or written to any workdir: the outputs are `<out>/lr_find.png`
(smoothed loss and accuracy against lr) and `<out>/lr_find.json`:

  suggested_lr     where the smoothed loss falls fastest per decade of lr
                   (before its minimum), a starting lr for a constant or
                   decaying schedule;
  min_loss_lr      where the smoothed loss is lowest (usually too high to train at);
  clr_base_lr, clr_max_lr   Smith's bounds for cyclical lr: where the smoothed
                   accuracy starts to rise and where it peaks.
"""
import functools
import json
import logging
import os
from typing import Any, Dict, Optional

from absl import flags
import jax
import ml_collections
import numpy as np

from cnnlab.core import cli
from cnnlab import augment
from cnnlab import finetune
from cnnlab import input_pipeline
from cnnlab.core import parallel
from cnnlab import schedules
from cnnlab import steps
from cnnlab.core.errors import UserError
from cnnlab.core.progress import ProgressBar

RESULT_FILE = 'lr_find.json'
PLOT_FILE = 'lr_find.png'


SWEEPS = ('exponential', 'linear')


def check_sweep(sweep: str) -> None:
  if sweep not in SWEEPS:
    raise UserError(f'--sweep={sweep!r}: use one of {", ".join(SWEEPS)}')


def range_schedule(min_lr: float, max_lr: float, num_steps: int, sweep: str = 'exponential'):
  """The sweep's lr per step: min_lr at step 0, max_lr at step num_steps - 1.

  'exponential' (Smith, fastai) spaces the lrs evenly in log scale; 'linear'
  evenly (seed 000 ramped its lr linearly with a triangular CyclicLR).
  """
  check_sweep(sweep)
  span = max(1, num_steps - 1)
  if sweep == 'linear':
    return lambda step: min_lr + (max_lr - min_lr) * (step / span)
  ratio = max_lr / min_lr
  return lambda step: min_lr * ratio ** (step / span)


def smooth(values: np.ndarray, beta: float) -> np.ndarray:
  """Bias-corrected exponential moving average (fastai's lr finder)."""
  out, avg = np.empty(len(values)), 0.0
  for i, v in enumerate(values):
    avg = beta * avg + (1 - beta) * v
    out[i] = avg / (1 - beta ** (i + 1))
  return out


def divergence_index(smoothed: np.ndarray, factor: float) -> Optional[int]:
  """First step whose smoothed loss is non-finite or > factor * the running minimum."""
  best = np.inf
  for i, v in enumerate(smoothed):
    if not np.isfinite(v) or (i > 0 and v > factor * best):
      return i
    best = min(best, v)
  return None


def analyse(lrs, losses, accuracies, beta: float = 0.95, diverge: float = 4.0
            ) -> Dict[str, Any]:
  """Smoothed curves and the suggested learning rates (see the module docstring)."""
  lrs, losses = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
  accuracies = np.asarray(accuracies, np.float64)
  finite = np.isfinite(losses)
  end = len(losses) if finite.all() else int(np.argmin(finite))
  smoothed = np.full(len(losses), np.nan)
  smoothed[:end] = smooth(losses[:end], beta)
  acc_smoothed = np.full(len(losses), np.nan)
  acc_smoothed[:end] = smooth(accuracies[:end], beta)
  stop = divergence_index(smoothed[:end], diverge)
  valid = end if stop is None else stop
  if valid < 8:
    raise UserError(f'the loss diverged after {valid} of {len(losses)} steps: lower '
                    '--min_lr (or --max_lr)')
  # The first points mostly show the moving average warming up; skip them.
  skip = min(10, valid // 10)
  i_min = skip + int(np.argmin(smoothed[skip:valid]))
  log_lr = np.log10(lrs)
  region = slice(skip, i_min + 1) if i_min - skip >= 3 else slice(skip, valid)
  slope = np.gradient(smoothed[region], log_lr[region])
  i_steep = region.start + int(np.argmin(slope))

  # Smith: base_lr where accuracy starts to increase, max_lr where it stops.
  acc = acc_smoothed[:valid]
  i_peak = skip + int(np.argmax(acc[skip:]))
  i_peak = min(i_peak, i_min)
  rise = acc[i_peak] - acc[skip]
  if rise > 0.02:
    i_base = skip + int(np.argmax(acc[skip:i_peak + 1] >= acc[skip] + 0.1 * rise))
  else:  # no visible accuracy change (many classes, few steps): use the loss instead
    drop = smoothed[skip] - smoothed[i_min]
    i_base = skip + int(np.argmax(smoothed[skip:i_min + 1] <= smoothed[skip] - 0.1 * drop))
  return {
      'suggested_lr': float(lrs[i_steep]),
      'min_loss_lr': float(lrs[i_min]),
      'clr_base_lr': float(lrs[i_base]),
      'clr_max_lr': float(lrs[i_peak]),
      'diverged_at_lr': None if stop is None and end == len(losses) else float(lrs[valid]),
      'steepest_slope_per_decade': float(slope[i_steep - region.start]),
      'smoothed_loss': smoothed.tolist(),
      'smoothed_accuracy': acc_smoothed.tolist(),
      'num_valid_steps': int(valid),
  }


def check_settings(min_lr: float, max_lr: float, num_steps: int, sweep: str) -> None:
  """UserErrors for a range test that could not give a curve (before the data loads)."""
  if not 0 < min_lr < max_lr:
    raise UserError(f'need 0 < min_lr < max_lr (got {min_lr}, {max_lr})')
  if num_steps < 20:
    raise UserError(f'num_steps={num_steps} is too few to read a curve from; use >= 50')
  check_sweep(sweep)
  if jax.process_count() > 1:  # minutes of work: not worth the multi-host feeding
    raise UserError('lr_find runs in a single process (all local devices); start it without '
                    '--multihost')


def run(config: ml_collections.ConfigDict, min_lr: float = 1e-7, max_lr: float = 10.0,
        num_steps: int = 200, diverge: float = 4.0, beta: float = 0.95,
        sweep: str = 'exponential') -> Dict[str, Any]:
  """Runs the range test; returns per-step lr, loss, accuracy and the analysis.

  sweep: 'exponential' or 'linear' spacing of the lrs (range_schedule).
  """
  check_settings(min_lr, max_lr, num_steps, sweep)
  mesh = parallel.create_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  train_ds, _ = input_pipeline.load_splits(config)
  pipeline = augment.create_pipeline(config.augment)
  steps_per_epoch, _ = schedules.steps_for(config, len(train_ds.labels))
  schedule = range_schedule(min_lr, max_lr, num_steps, sweep)
  # The same initial weights and data order as a training run of this config.
  init_rng, train_rng = jax.random.split(jax.random.key(config.seed))
  model, state = steps.state_for(config, train_ds.num_classes, train_ds.image_shape,
                                 steps_per_epoch, num_steps, init_rng,
                                 pipeline.fit(train_ds.images), schedule=schedule)
  state = steps.fit_model(state, model, train_ds.images, pipeline, config.seed)
  if config.init_from:
    state = finetune.load_init(state, config.init_from)
  step_fn = jax.jit(functools.partial(steps.gather_train_step, pipeline=pipeline,
                                      label_smoothing=config.label_smoothing,
                                      steps_per_epoch=steps_per_epoch),
                    donate_argnums=0)
  logging.info('LR range test: %s on %d images, lr %.1e..%.1e (%s) over %d steps of %d',
               config.model.name, len(train_ds.labels), min_lr, max_lr, sweep, num_steps,
               config.batch_size)
  data = parallel.replicate({'image': train_ds.images, 'label': train_ds.labels}, mesh)

  def train(state, step):
    rows = batch_rows(config, step, steps_per_epoch, len(train_ds.labels))
    return step_fn(state, data, parallel.global_batch({'i': rows}, mesh)['i'], train_rng)

  lrs, losses, accuracies = sweep_until_divergence(
      parallel.replicate(state, mesh), train, schedule, num_steps, diverge, beta)
  result = {'lr': lrs, 'loss': losses, 'accuracy': accuracies,
            'settings': {'min_lr': min_lr, 'max_lr': max_lr, 'num_steps': num_steps,
                         'sweep': sweep,
                         'diverge': diverge, 'smoothing': beta,
                         'batch_size': config.batch_size, 'model': config.model.name,
                         'optimizer': config.optimizer.name,
                         'num_train_images': len(train_ds.labels)}}
  result.update(analyse(result['lr'], losses, accuracies, beta, diverge))
  return result


def batch_rows(config, step: int, steps_per_epoch: int, num_images: int) -> np.ndarray:
  """The training rows of `step`: a training run's data order (int32 [batch_size])."""
  epoch, position = divmod(step, steps_per_epoch)
  order = input_pipeline.epoch_permutation(config.seed, epoch, num_images)
  return order[position * config.batch_size:(position + 1) * config.batch_size].astype(np.int32)


def sweep_until_divergence(state, train, schedule, num_steps: int, diverge: float, beta: float):
  """(lrs, losses, accuracies) per step, until the smoothed loss exceeds `diverge`x its
  minimum. train(state, step) -> (state, metrics) runs one step at schedule(step)."""
  lrs, losses, accuracies, pending, best = [], [], [], [], np.inf
  with ProgressBar(num_steps, 'lr range test', enabled=parallel.is_main_process()) as bar:
    for step in range(num_steps):
      state, metrics = train(state, step)
      lrs.append(float(schedule(step)))
      pending.append(metrics)
      if len(pending) < 10 and step < num_steps - 1:  # fetch in chunks: fewer host syncs
        continue
      for m in jax.device_get(pending):
        losses.append(float(m['loss']))
        accuracies.append(float(m['accuracy']))
      pending = []
      smoothed = smooth(np.nan_to_num(losses, nan=np.inf), beta)
      best = min(best, float(np.min(smoothed)))
      bar.update(step + 1, lr=lrs[-1], loss=float(smoothed[-1]))
      if not np.isfinite(smoothed[-1]) or smoothed[-1] > diverge * best:
        logging.info('Smoothed loss above %gx its minimum: stopped after step %d (lr %.2e)',
                     diverge, step + 1, lrs[-1])
        break
  return lrs[:len(losses)], losses, accuracies


def plot(result: Dict[str, Any], path: str) -> str:
  """Loss (top) and accuracy (bottom) against lr, log scale, with the suggestions."""
  # matplotlib (~0.5 s) only when a plot is drawn.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  from cnnlab import figures  # pylint: disable=g-import-not-at-top
  lr = np.asarray(result['lr'])
  loss, smoothed = np.asarray(result['loss']), np.asarray(result['smoothed_loss'])
  acc, acc_smoothed = np.asarray(result['accuracy']), np.asarray(result['smoothed_accuracy'])
  s = result['settings']
  fig = Figure(figsize=(8.0, 6.4))
  top, bottom = fig.subplots(2, 1, sharex=True)
  for ax, raw, smooth_, name in ((top, loss, smoothed, 'train loss'),
                                 (bottom, acc, acc_smoothed, 'train accuracy')):
    ax.plot(lr, raw, color=figures.TRAIN_COLOR, alpha=0.25, lw=0.8, label='per batch')
    ax.plot(lr, smooth_, color=figures.TRAIN_COLOR, lw=1.8,
            label=f'smoothed (EMA {s["smoothing"]})')
    ax.axvspan(result['clr_base_lr'], result['clr_max_lr'], color='#2da44e', alpha=0.12,
               label=f'CLR range {result["clr_base_lr"]:.1e} .. {result["clr_max_lr"]:.1e}')
    ax.axvline(result['suggested_lr'], color=figures.VAL_COLOR, ls='--', lw=1.2,
               label=f'suggested lr {result["suggested_lr"]:.1e} (steepest descent)')
    if result['diverged_at_lr']:
      ax.axvline(result['diverged_at_lr'], color=figures.LR_COLOR, ls=':', lw=1.2,
                 label=f'diverged: smoothed loss > {s["diverge"]:g}x its min '
                 f'at {result["diverged_at_lr"]:.1e}')
    # A linear sweep is read on a linear axis (seed 000's plots), where its
    # points are evenly spaced, as an exponential one's are on a log axis.
    ax.set_xscale('linear' if s.get('sweep') == 'linear' else 'log')
    ax.set_ylabel(name)
    ax.grid(True, which='major', alpha=0.3)
  # Keep the interesting part in view: a diverging tail would flatten it.
  finite = smoothed[np.isfinite(smoothed)]
  low, start = float(np.min(finite)), float(finite[0])
  top.set_ylim(low - 0.1 * (start - low + 1e-3), max(start, low) + 0.5 * (start - low + 1e-3))
  bottom.set_ylim(0.0, min(1.0, float(np.nanmax(acc)) * 1.1 + 0.02))
  top.legend(loc='lower left', fontsize=8)
  bottom.set_xlabel('learning rate' + ('' if s.get('sweep') == 'linear' else ' (log scale)'))
  top.set_title(f'LR range test: {s["model"]}, {s["optimizer"]}, batch {s["batch_size"]}, '
                f'{len(lr)} of {s["num_steps"]} steps, {s["num_train_images"]} train images',
                fontsize=10)
  fig.tight_layout()
  return figures.save(fig, path)


def write(result: Dict[str, Any], out: str) -> Dict[str, str]:
  os.makedirs(out, exist_ok=True)
  paths = {'json': os.path.join(out, RESULT_FILE), 'png': os.path.join(out, PLOT_FILE)}
  tmp = paths['json'] + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(result, f, indent=1)
  os.replace(tmp, paths['json'])
  plot(result, paths['png'])
  return paths


def summary(result: Dict[str, Any]) -> str:
  r = result
  warning = []
  if r['diverged_at_lr'] is None and r['min_loss_lr'] >= 0.9 * r['lr'][-1]:
    warning = ['note: the loss was still falling at the last lr; the suggestions are lower '
               'bounds: rerun with a larger --max_lr']
  return '\n'.join(warning + [
      f'suggested lr (steepest descent of the smoothed loss): {r["suggested_lr"]:.2e}   '
      f'(lowest loss at {r["min_loss_lr"]:.2e}'
      + (f', diverged at {r["diverged_at_lr"]:.2e})' if r['diverged_at_lr'] else ')'),
      f'  --config.optimizer.lr={r["suggested_lr"]:.2g}',
      f'CLR bounds: base_lr {r["clr_base_lr"]:.2e}, max_lr {r["clr_max_lr"]:.2e}',
      f'  --config.schedule.name=triangular --config.schedule.min_lr={r["clr_base_lr"]:.2g} '
      f'--config.optimizer.lr={r["clr_max_lr"]:.2g}',
  ])


def main(argv):
  f = flags.FLAGS

  def go():
    result = run(f.config, f.min_lr, f.max_lr, f.num_steps, f.diverge, f.smoothing, f.sweep)
    paths = write(result, f.out)
    print(summary(result))
    print(f'wrote {paths["png"]} and {paths["json"]}')

  cli.run_main(go, argv)


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config()
  flags.DEFINE_string('out', None, 'Directory for lr_find.png and lr_find.json.',
                       required=True)
  flags.DEFINE_float('min_lr', 1e-7, 'First learning rate of the sweep.')
  flags.DEFINE_float('max_lr', 10.0, 'Last learning rate of the sweep.')
  flags.DEFINE_integer('num_steps', 200, 'Optimizer steps (one lr each).')
  flags.DEFINE_float('diverge', 4.0, 'Stop when the smoothed loss exceeds this times its minimum.')
  flags.DEFINE_float('smoothing', 0.95, 'EMA factor for the loss and accuracy curves.')
  flags.DEFINE_enum('sweep', 'exponential', list(SWEEPS),
                     'How the lr grows from --min_lr to --max_lr: exponential (evenly in log '
                     'scale) or linear (seed 000\'s ramp).')


if __name__ == '__main__':
  cli.run_command(main, define_flags)
