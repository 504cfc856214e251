"""Seed 000's per-batch figures, drawn from a run's per-step records.

config.log_step_records=True writes one line per optimizer step into
<workdir>/steps.jsonl (step, the lr it used, its batch's loss and accuracy;
cnnlab.core.history.read_steps). Seed 000 read its learning rates off such
records: the moving average of the batch accuracy against the lr of a linear
lr ramp (its LR range test), and per-batch curves of each optimizer in its
optimizer comparison. cnnlab.report draws these from the records:

  steps_figure           loss and accuracy per batch with their moving averages, lr on a
                         second axis (report/steps.png)
  accuracy_vs_lr_figure  the lr per step, and the accuracy's moving average against the lr
                         (report/accuracy_vs_lr.png)
  compare_steps_figure   several runs' moving averages of batch accuracy and loss
                         (python -m cnnlab.report: <out>_steps.png)

Headless, with matplotlib's object API, as cnnlab.figures.
"""
from typing import Any, Dict, Sequence, Tuple

import matplotlib
from matplotlib import ticker
from matplotlib.figure import Figure
import numpy as np

from cnnlab import figures

# Seed 000's moving-average windows: 50 batches for its LR range plot, 20 for
# its optimizer comparison.
LR_WINDOW = 50
CURVE_WINDOW = 20


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
  """Trailing means over `window` values, only where the window is full.

  len(values) - window + 1 values; entry i is the mean of values[i:i + window]
  (seed 000's moving_average). A window longer than the series shrinks to it.
  """
  values = np.asarray(values, np.float64)
  window = max(1, min(int(window), len(values)))
  if not len(values):
    return values
  return np.convolve(values, np.full(window, 1.0 / window), mode='valid')


def _column(records: Sequence[Dict[str, Any]], key: str) -> np.ndarray:
  return np.array([r.get(key, np.nan) for r in records], np.float64)


def _window(records: Sequence[Dict[str, Any]], window: int) -> int:
  return max(1, min(window, len(records)))


def steps_figure(records: Sequence[Dict[str, Any]], title: str = '',
                 window: int = CURVE_WINDOW) -> Figure:
  """Loss (left) and accuracy (right) of every batch, raw and moving average; lr dashed."""
  fig = Figure(figsize=figures.CURVES_SIZE, dpi=figures.DPI, layout='constrained')
  if not records:
    fig.text(0.5, 0.5, 'No per-step records (steps.jsonl): train with '
             '--config.log_step_records=True.', ha='center', va='center', fontsize=12,
             color=figures.TEXT)
    return fig
  window = _window(records, window)
  step = _column(records, 'step')
  ax_loss, ax_acc = fig.subplots(1, 2)
  for ax, key in ((ax_loss, 'loss'), (ax_acc, 'accuracy')):
    values = _column(records, key)
    ax.plot(step, values, color=figures.TRAIN_COLOR, alpha=0.25, lw=0.8, label=f'batch {key}')
    ax.plot(step[window - 1:], moving_average(values, window), color=figures.TRAIN_COLOR, lw=1.8,
            label=f'moving average ({window} batches)')
    ax.set_xlabel('step')
    ax.set_ylabel(f'train {key}')
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc='lower left', bbox_to_anchor=(0, 1.0), frameon=False, ncol=3)
  lr = _column(records, 'lr')
  if np.isfinite(lr).any():
    ax_lr = ax_loss.twinx()
    ax_lr.plot(step, lr, color=figures.LR_COLOR, ls='--', lw=1.2)
    ax_lr.set_ylabel('learning rate', color=figures.LR_COLOR)
    ax_lr.tick_params(axis='y', colors=figures.LR_COLOR, labelsize=8)
    ax_lr.set_ylim(bottom=0, top=float(np.nanmax(lr)) * 1.1 or 1.0)
    ax_lr.yaxis.set_major_formatter(ticker.FormatStrFormatter('%.2g'))
  if title:
    fig.suptitle(f'{title}: per batch', fontsize=11)
  return fig


def accuracy_vs_lr_figure(records: Sequence[Dict[str, Any]], title: str = '',
                          window: int = LR_WINDOW) -> Figure:
  """The lr per step (left); the batch accuracy's moving average against the lr (right).

  Seed 000's LR range plot: the lr where the averaged accuracy starts to
  rise is a base lr for cyclical schedules, where it stops rising a max lr.
  Each average is drawn at the lr of its window's last batch.
  """
  fig = Figure(figsize=figures.CURVES_SIZE, dpi=figures.DPI, layout='constrained')
  lr = _column(records, 'lr')
  if not records or not np.isfinite(lr).any():
    fig.text(0.5, 0.5, 'No per-step learning rates (steps.jsonl): train with '
             '--config.log_step_records=True.', ha='center', va='center', fontsize=12,
             color=figures.TEXT)
    return fig
  window = _window(records, window)
  ax_lr, ax_acc = fig.subplots(1, 2)
  ax_lr.plot(_column(records, 'step'), lr, color=figures.LR_COLOR)
  ax_lr.set_xlabel('step')
  ax_lr.set_ylabel('learning rate')
  ax_lr.grid(True, alpha=0.3)
  ax_acc.plot(lr[window - 1:], moving_average(_column(records, 'accuracy'), window),
              color=figures.TRAIN_COLOR)
  ax_acc.set_xlabel('learning rate')
  ax_acc.set_ylabel(f'train accuracy, moving average of {window} batches')
  ax_acc.grid(True, alpha=0.3)
  if title:
    fig.suptitle(f'{title}: accuracy against learning rate', fontsize=11)
  return fig


def compare_steps_figure(runs: Sequence[Tuple[str, Sequence[Dict[str, Any]]]],
                         window: int = CURVE_WINDOW) -> Figure:
  """Several runs' batch accuracy (left) and loss (right), moving averages per step.

  Seed 000's optimizer comparison; runs without step records are left out
  (the caller says which).
  """
  fig = Figure(figsize=figures.CURVES_SIZE, dpi=figures.DPI, layout='constrained')
  ax_acc, ax_loss = fig.subplots(1, 2)
  colours = matplotlib.colormaps['tab10' if len(runs) <= 10 else 'tab20']
  for i, (name, records) in enumerate(runs):
    if not records:
      continue
    w = _window(records, window)
    step = _column(records, 'step')
    for ax, key in ((ax_acc, 'accuracy'), (ax_loss, 'loss')):
      ax.plot(step[w - 1:], moving_average(_column(records, key), w),
              color=colours(i % colours.N), lw=1.2, label=name)
  for ax, key in ((ax_acc, 'accuracy'), (ax_loss, 'loss')):
    ax.set_title(f'Training {key} per batch, moving average of {window}')
    ax.set_xlabel('step')
    ax.set_ylabel(f'train {key}')
    ax.grid(True, alpha=0.3)
  handles, labels = ax_acc.get_legend_handles_labels()
  if handles:
    fig.legend(handles, labels, loc='outside upper center', ncol=min(len(handles), 6),
               fontsize=9, frameon=False)
  return fig
