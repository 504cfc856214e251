r"""Plots a config's learning-rate schedule (or every schedule) before training.

  python -m cnnlab.schedule_preview --config=configs/resnet.py --steps_per_epoch=351 --out=lr.png
  python -m cnnlab.schedule_preview --all --config.num_epochs=30 --config.optimizer.lr=0.1 \
      --steps_per_epoch=100 --out=schedules.png
"""
from absl import flags
import jax
from matplotlib.figure import Figure
import ml_collections
import numpy as np

from cnnlab import figures
from cnnlab import input_pipeline
from cnnlab.core import cli
from cnnlab.core.errors import UserError
from cnnlab.schedules import SCHEDULES, create_schedule, epochs_to_steps, steps_for

FLAGS = flags.FLAGS
# Settings that show each schedule's shape in the gallery (--all).
GALLERY = {
    'constant': {}, 'piecewise': {'boundaries_epochs': '10,20'}, 'step': {'decay_epochs': 8.0},
    'exponential': {'decay_epochs': 15.0}, 'time_based': {'time_decay': 0.003},
    'cosine': {'min_lr': 0.001}, 'warmup_cosine': {'warmup_epochs': 3.0},
    'one_cycle': {}, 'triangle': {'pct_start': 0.23}, 'triangular': {'min_lr': 0.02, 'step_size_epochs': 3.0},
    'triangular2': {'min_lr': 0.02, 'step_size_epochs': 3.0},
    'exp_range': {'min_lr': 0.02, 'step_size_epochs': 3.0, 'gamma': 0.999},
    'sgdr': {'t0_epochs': 2.0, 't_mult': 2.0, 'min_lr': 0.001},
    'reduce_on_plateau': {},
}


def preview(config: ml_collections.ConfigDict, steps_per_epoch: int, num_train_steps: int,
            path: str, names=None) -> str:
  """Plots lr against epoch for config's schedule, or for each of `names` (a grid)."""
  names = names or [config.schedule.name]
  cols = min(4, len(names))
  rows = -(-len(names) // cols)
  fig = Figure(figsize=(3.2 * cols + 0.6, 2.4 * rows + 0.4) if len(names) > 1 else (7.0, 3.4))
  axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
  steps = np.arange(num_train_steps)
  for ax, name in zip(axes, names):
    c = config.copy_and_resolve_references()
    with c.unlocked():
      c.schedule.name = name
      if len(names) > 1:
        for key, value in GALLERY.get(name, {}).items():
          c.schedule[key] = value
    lr = jax.jit(jax.vmap(create_schedule(c, steps_per_epoch, num_train_steps)))(steps)
    ax.plot(steps / steps_per_epoch, np.asarray(lr), color=figures.TRAIN_COLOR, lw=1.5)
    ax.set_title(name + (' (constant until a plateau)' if name == 'reduce_on_plateau' else ''),
                 fontsize=9)
    ax.set_xlabel('epoch', fontsize=8)
    ax.set_ylabel('lr', fontsize=8)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
  for ax in axes[len(names):]:
    ax.set_visible(False)
  fig.suptitle(f'lr per step, peak {config.optimizer.lr:g}, {steps_per_epoch} steps/epoch, '
               f'{num_train_steps // steps_per_epoch} epochs'
               + (' (settings: cnnlab.schedule_preview.GALLERY)' if len(names) > 1 else ''), fontsize=10)
  fig.tight_layout()
  return figures.save(fig, path)


def main(argv):
  f = FLAGS

  def go():
    config = f.config
    steps_per_epoch = f.steps_per_epoch
    if not steps_per_epoch:
      train_ds, _ = input_pipeline.load_splits(config)
      steps_per_epoch = steps_for(config, len(train_ds.labels))[0]
    num_train_steps = (config.num_train_steps if config.num_train_steps > 0
                       else epochs_to_steps(config.num_epochs, steps_per_epoch))
    names = SCHEDULES.names() if f.all else None
    print(f'wrote {preview(config, steps_per_epoch, num_train_steps, f.out, names)}')

  cli.run_main(go, argv)


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config()
  flags.DEFINE_string('out', 'schedule.png', 'Where to write the plot.')
  flags.DEFINE_integer('steps_per_epoch', 0, '0 = from the config\'s data (loads it).')
  flags.DEFINE_bool('all', False, 'Plot every registered schedule (a gallery) instead.')


if __name__ == '__main__':
  cli.run_command(main, define_flags)
