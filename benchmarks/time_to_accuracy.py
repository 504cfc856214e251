r"""Validation accuracy against wall-clock seconds: the airbench recipes beside the seed's.

  bash benchmarks/time_to_accuracy.sh runs/tta airbench:0 airbench_cpu:0 ...   # train
  python benchmarks/time_to_accuracy.py --root=runs/tta                        # summarize
  # Fashion-MNIST (the official files; each run reads its test split once, at the end):
  bash benchmarks/time_to_accuracy.sh runs/tta_fm fashion_fast:0 fashion_fast:1 fashion_fast:2
  python benchmarks/time_to_accuracy.py --root=runs/tta_fm --name=fashion_mnist --targets=0.94,0.95

Reads every `<root>/<config>_s<seed>/` workdir that benchmarks/time_to_accuracy.sh
trained (configs/<config>.py with --config.seed=<seed>), and writes into --out:
  <name>.png            val accuracy against wall-clock seconds, one line per run
                        (the official test accuracy at the end as a star, where read)
  <name>.md             per run and per config: final val accuracy with and
                        without TTA and test accuracy where the run has a test
                        part (eval_test.json: its one reading, with the run's
                        TTA) (mean +- std over seeds), wall seconds,
                        seconds to each target, images/s, and the % of the
                        CPU's fp32 peak the training step reaches (FLOPs per
                        image from XLA's cost analysis of the compiled step,
                        benchmarks/airbench_speed.py).
Wall-clock seconds are the run's `elapsed_seconds` (data loading excluded;
compilation, evaluation and checkpoints included), images/s the median over
epochs after the first (which includes compilation).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=g-import-not-at-top,wrong-import-position
import ml_collections
import numpy as np

from cnnlab import figures
from cnnlab.core import history

TARGETS = (0.90, 0.935)  # CIFAR-10's; --targets for other data


def load_runs(root: str):
  """[{name, config, seed, records, meta}] for each finished-or-not workdir under root."""
  runs = []
  for entry in sorted(os.listdir(root)):
    workdir = os.path.join(root, entry)
    if not os.path.exists(os.path.join(workdir, 'meta.json')) or '_s' not in entry:
      continue
    name, seed = entry.rsplit('_s', 1)
    with open(os.path.join(workdir, 'meta.json')) as f:
      meta = json.load(f)
    records = history.read(workdir)
    test = None
    if os.path.exists(os.path.join(workdir, 'eval_test.json')):
      with open(os.path.join(workdir, 'eval_test.json')) as f:
        test = json.load(f)
    if records:
      runs.append(dict(name=name, seed=int(seed), records=records, meta=meta, workdir=workdir,
                       test=test))
  return runs


def seconds_to(records, target: float):
  for r in records:
    if r.get('val_accuracy', -1) >= target:
      return r['elapsed_seconds']
  return None


def summarize_run(run, gflop_per_image, peak, targets=TARGETS):
  records = run['records']
  last = records[-1]
  rates = [r['examples_per_sec'] for r in records[1:]] or [records[0]['examples_per_sec']]
  rate = float(np.median(rates))
  done = last['step'] >= run['meta']['num_train_steps']
  epochs = round(last['step'] / run['meta']['steps_per_epoch'], 2)  # 6.5, not the 7th record
  return dict(
      name=run['name'], seed=run['seed'], epochs=f'{epochs:g}', done=done,
      val=last.get('val_accuracy'), val_tta=last.get('val_accuracy_tta'),
      wall=last['elapsed_seconds'], images_per_sec=rate,
      train_seconds=last.get('train_seconds_total'),
      test=run['test']['accuracy'] if run.get('test') else None,
      pct_peak=(100 * rate * gflop_per_image / peak if gflop_per_image and peak else None),
      **{f'to_{t}': seconds_to(records, t) for t in targets})


def _fmt(value, spec):
  return '' if value is None else format(value, spec)


def _mean_std(values):
  values = [v for v in values if v is not None]
  if not values:
    return ''
  if len(values) == 1:
    return f'{values[0]:.4f}'
  return f'{np.mean(values):.4f} +- {np.std(values, ddof=1):.4f}'


def markdown(rows, flops, targets=TARGETS):
  with_test = any(r['test'] is not None for r in rows)
  test_head = ' test acc |' if with_test else ''
  head = ('| run | epochs | val acc | val acc TTA |' + test_head + ' wall s | train s | '
          + ' | '.join(f's to {t:.1%}' for t in targets) + ' | images/s | % of peak |')
  lines = [head, '|' + '---|' * (head.count('|') - 1)]
  for r in rows:
    test = f" {_fmt(r['test'], '.4f')} |" if with_test else ''
    lines.append(
        f"| {r['name']} s{r['seed']}{'' if r['done'] else ' (unfinished)'} | {r['epochs']} | "
        f"{_fmt(r['val'], '.4f')} | {_fmt(r['val_tta'], '.4f')} |{test} {r['wall']:.0f} | "
        f"{_fmt(r['train_seconds'], '.0f')} | "
        + ' | '.join(_fmt(r[f'to_{t}'], '.0f') or 'not reached' for t in targets)
        + f" | {r['images_per_sec']:.0f} | {_fmt(r['pct_peak'], '.0f')} |")
  test_head = ' test acc mean +- std |' if with_test else ''
  lines += ['', '| config | n (finished) | val acc mean +- std | with TTA |' + test_head
            + ' wall s mean | GFLOP per trained image |',
            '|---|---|---|---|' + ('---|' if with_test else '') + '---|---|']
  by_name = collections.defaultdict(list)
  for r in rows:
    if r['done']:
      by_name[r['name']].append(r)
  for name, group in by_name.items():
    test = f" {_mean_std([r['test'] for r in group])} |" if with_test else ''
    lines.append(f"| {name} | {len(group)} | {_mean_std([r['val'] for r in group])} | "
                 f"{_mean_std([r['val_tta'] for r in group])} |{test} "
                 f"{np.mean([r['wall'] for r in group]):.0f} | "
                 f"{_fmt(flops.get(name), '.3f')} |")
  return '\n'.join(lines) + '\n'


def figure(runs, path, targets=TARGETS, ylim=(0.4, 1.0)):
  fig = figures.Figure(figsize=(7, 4.5))
  ax = fig.add_subplot()
  colours = {}
  for run in runs:
    colour = colours.setdefault(run['name'], f'C{len(colours)}')
    points = [(r['elapsed_seconds'], r['val_accuracy']) for r in run['records']
              if 'val_accuracy' in r]
    if points:
      x, y = zip(*points)
      ax.plot(np.asarray(x) / 60, y, '-o', ms=3, color=colour,
              label=run['name'] if run['seed'] == min(
                  r['seed'] for r in runs if r['name'] == run['name']) else None)
      if run.get('test'):  # the one reading of the test split, at the end
        ax.plot([x[-1] / 60], [run['test']['accuracy']], '*', ms=9, color=colour)
  for t in targets:
    ax.axhline(t, color='grey', lw=0.7, ls='--')
  ax.set_xlabel('wall-clock minutes (this CPU)')
  ax.set_ylabel('val accuracy (held-out training images); * = test')
  ax.set_ylim(*ylim)
  ax.grid(alpha=0.3)
  ax.legend(loc='lower right')
  return figures.save(fig, path)


def step_flops(name: str, batch_size: int, image_shape=(32, 32, 3)):
  """GFLOP per trained image of configs/<name>.py's compiled step (XLA cost analysis)."""
  import importlib
  import airbench_speed
  config = importlib.import_module(f'configs.{name}').get_config()
  _, _, flops = airbench_speed.compiled_step(config, batch_size, image_shape=image_shape)
  return flops / 1e9


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--root', default='runs/tta')
  parser.add_argument('--out', default='benchmarks/time_to_accuracy')
  parser.add_argument('--name', default='time_to_accuracy', help='<out>/<name>.md and .png')
  parser.add_argument('--targets', default=','.join(map(str, TARGETS)),
                      help='val accuracies whose first crossing is timed')
  parser.add_argument('--ymin', type=float, default=0.4)
  parser.add_argument('--flops_per_cycle', type=float, default=32.0,
                      help='fp32 FLOP per cycle per core (Zen 4, AVX-512 on 256-bit units: 32)')
  parser.add_argument('--ghz', type=float, default=0.0)
  args = parser.parse_args()
  runs = load_runs(args.root)
  if not runs:
    sys.exit(f'no runs under {args.root}: train them with benchmarks/time_to_accuracy.sh')
  os.makedirs(args.out, exist_ok=True)
  from airbench_speed import peak_gflops
  peak = peak_gflops(args.flops_per_cycle, args.ghz)
  flops = {}
  targets = tuple(float(t) for t in args.targets.split(','))
  for run in runs:
    if run['name'] not in flops:
      config = ml_collections.ConfigDict(run['meta']['config'])
      flops[run['name']] = step_flops(run['name'], config.batch_size,
                                      tuple(run['meta']['image_shape']))
  rows = [summarize_run(run, flops[run['name']], peak, targets) for run in runs]
  text = (f'Peak: {peak:.0f} GFLOP/s ({os.cpu_count()} cores x {args.flops_per_cycle:g} FLOP/cycle '
          f'x clock).\n\n' + markdown(rows, flops, targets))
  with open(os.path.join(args.out, f'{args.name}.md'), 'w') as f:
    f.write(text)
  figure(runs, os.path.join(args.out, f'{args.name}.png'), targets, (args.ymin, 1.0))
  print(text)


if __name__ == '__main__':
  main()
