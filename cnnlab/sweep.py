r"""Compare configurations: every combination of some config fields, over seeds.

  python -m cnnlab.sweep --config=configs/vgg.py --workdir=runs/opt --seeds=3 \
      --sweep='optimizer.name=sgd,adam,adamax,rmsprop,adagrad,adadelta'
  python -m cnnlab.sweep ... --sweep=optimizer.name=sgd,adam --sweep=optimizer.lr=0.01,0.001
  python -m cnnlab.sweep ... --sweep='optimizer.name:optimizer.lr=sgd:0.01,adam:1e-3'

Each --sweep names one field and its values (comma-separated; use ';' instead
when the values contain commas, e.g. augment pipelines); the variants are
their cartesian product. Fields joined by ':' vary together (each value is
'v1:v2'), e.g. each optimizer with its own lr. Variant v with seed s trains with
`train.train_and_evaluate` in `<workdir>/<v>/seed_<s>` (config.seed = the
config's seed + s: init, data order and the validation split all change with
it, identically for every variant). A finished run is skipped on rerun, an
interrupted one resumes from its checkpoint, and a diverged one is recorded
and the sweep goes on. At the end (or with --report_only):

  <workdir>/sweep.png  val accuracy and val loss per epoch, one line per variant
                       (mean over seeds) with a band from the lowest to the
                       highest seed
  <workdir>/sweep.md   final and best val accuracy (mean +- sample std over
                       seeds), epochs to the best, wall time per run
  <workdir>/sweep.json the same numbers
"""
import ast
import itertools
import json
import logging
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import flags
import ml_collections
import numpy as np

from cnnlab import augment
from cnnlab import models
from cnnlab import optimizers
from cnnlab import train
from cnnlab.core import cli
from cnnlab.core import history
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS
RUN_FILE = 'sweep_run.json'
Variant = Tuple[Tuple[str, Any], ...]  # ((field, value), ...)


def parse_value(config: ml_collections.ConfigDict, field: str, text: str,
                flag: str = '--sweep') -> Any:
  """`text` converted to the type of config field `field` ('optimizer.lr').

  `flag` names the command-line flag the text came from, in the errors.
  """
  *parents, leaf = field.split('.')
  node = config
  try:
    for p in parents:
      node = node[p]
    ref = node.get_ref(leaf)
  except (KeyError, AttributeError):
    raise UserError(f'{flag} field {field!r} is not a config field') from None
  kind = ref.get_type()
  text = text.strip()
  try:
    if kind is bool:
      if text.lower() not in ('true', 'false', '1', '0'):
        raise ValueError(text)
      return text.lower() in ('true', '1')
    if kind in (int, float, str):
      return kind(text)
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    raise UserError(f'{flag} {field}={text!r}: expected a {kind.__name__}') from None


def parse_sweeps(config: ml_collections.ConfigDict, sweeps: Sequence[str]
                 ) -> List[Variant]:
  """['a.b=1,2', 'c=x,y'] -> the cartesian product [((a.b, 1), (c, 'x')), ...]."""
  axes = []
  for spec in sweeps:
    if '=' not in spec:
      raise UserError(f'--sweep={spec!r}: expected FIELD=V1,V2,... such as optimizer.name=sgd,adam')
    names, values = spec.split('=', 1)
    # 'a:b=1:2,3:4' zips fields: (a=1, b=2) and (a=3, b=4), not their product.
    fields = [f.strip().removeprefix('config.') for f in names.split(':')]
    parts = [v for v in values.split(';' if ';' in values else ',') if v.strip()]
    if not parts:
      raise UserError(f'--sweep={spec!r} lists no values')
    for field in fields:
      if any(field in done for done, _ in axes):
        raise UserError(f'--sweep field {field!r} is given twice')
    points = []
    for part in parts:
      items = part.split(':') if len(fields) > 1 else [part]
      if len(items) != len(fields):
        raise UserError(f'--sweep={spec!r}: {part!r} needs {len(fields)} values '
                        f'separated by ":" (one per field)')
      points.append(tuple((f, parse_value(config, f, v)) for f, v in zip(fields, items)))
    axes.append((fields, points))
  if not axes:
    return [()]
  return [sum(combo, ()) for combo in itertools.product(*[points for _, points in axes])]


def apply(config: ml_collections.ConfigDict, variant: Variant, seed_offset: int
          ) -> ml_collections.ConfigDict:
  config = config.copy_and_resolve_references()
  with config.unlocked():
    for field, value in variant:
      *parents, leaf = field.split('.')
      node = config
      for p in parents:
        node = node[p]
      node[leaf] = value
    config.seed = config.seed + seed_offset
  return config


def label(variant: Variant) -> str:
  """'name=sgd, lr=0.01': leaf names, unless two fields share one."""
  leaves = [f.rsplit('.', 1)[-1] for f, _ in variant]
  names = leaves if len(set(leaves)) == len(leaves) else [f for f, _ in variant]
  return ', '.join(f'{n}={v}' for n, (_, v) in zip(names, variant)) or 'base'


def dirname(variant: Variant) -> str:
  text = ','.join(f'{f}={v}' for f, v in variant) or 'base'
  return re.sub(r'[^A-Za-z0-9_.,=+-]', '_', text)


def run_dir(workdir: str, variant: Variant, seed: int) -> str:
  return os.path.join(workdir, dirname(variant), f'seed_{seed}')


def _fingerprint(config: ml_collections.ConfigDict) -> str:
  return json.dumps(config.to_dict(), sort_keys=True, default=str)


def read_run(path: str) -> Dict[str, Any]:
  try:
    with open(os.path.join(path, RUN_FILE)) as f:
      return json.load(f)
  except FileNotFoundError:
    return {}


def check(config: ml_collections.ConfigDict, variants: List[Variant]) -> None:
  """Builds each variant's model, optimizer, schedule and augmentation, so a typo
  in any of them stops the sweep before the first run rather than in the middle."""
  for variant in variants:
    run_config = apply(config, variant, 0)
    try:
      models.from_config(run_config.model, 10)  # name and options (model.dropout)
      optimizers.create_optimizer(run_config, 10, 1000)
      augment.create_pipeline(run_config.augment)
    except UserError as e:
      raise UserError(f'variant {label(variant)}: {e}') from None


def run_all(config: ml_collections.ConfigDict, variants: List[Variant], seeds: int,
            workdir: str) -> None:
  """Trains every (variant, seed) not finished yet with this exact config."""
  check(config, variants)
  jobs = [(v, s) for v in variants for s in range(seeds)]
  for i, (variant, seed) in enumerate(jobs):
    run_config = apply(config, variant, seed)
    path = run_dir(workdir, variant, seed)
    done = read_run(path)
    if done.get('config') == _fingerprint(run_config):
      logging.info('[%d/%d] %s seed %d: %s, skipped', i + 1, len(jobs), label(variant), seed,
                   done['status'])
      continue
    logging.info('[%d/%d] %s seed %d -> %s', i + 1, len(jobs), label(variant), seed, path)
    status, error = 'finished', ''
    try:
      train.train_and_evaluate(run_config, path)
    except train.TrainingDiverged as e:
      status, error = 'diverged', str(e)
      logging.warning('%s seed %d diverged: %s', label(variant), seed, e)
    records = history.read(path)
    record = {'variant': [[f, v] for f, v in variant], 'label': label(variant), 'seed': seed,
              'status': status, 'error': error, 'config': _fingerprint(run_config),
              'wall_seconds': records[-1]['elapsed_seconds'] if records else None}
    with open(os.path.join(path, RUN_FILE + '.tmp'), 'w') as f:
      json.dump(record, f, indent=1)
    os.replace(os.path.join(path, RUN_FILE + '.tmp'), os.path.join(path, RUN_FILE))


def _mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
  """(mean, sample std); the std is None for one value (no spread was measured)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None


def summarize(variants: List[Variant], seeds: int, workdir: str) -> List[Dict[str, Any]]:
  """Per variant: curves per seed and the table's numbers."""
  rows = []
  for variant in variants:
    curves, final, best, to_best, wall, diverged = [], [], [], [], [], 0
    for seed in range(seeds):
      path = run_dir(workdir, variant, seed)
      evals = [r for r in history.read(path) if 'val_accuracy' in r]
      if read_run(path).get('status') == 'diverged':
        diverged += 1
        continue
      if not evals:
        continue
      curves.append({'epoch': [r['epoch'] for r in evals],
                     'val_accuracy': [r['val_accuracy'] for r in evals],
                     'val_loss': [r['val_loss'] for r in evals]})
      accs = [r['val_accuracy'] for r in evals]
      final.append(accs[-1])
      best.append(max(accs))
      to_best.append(evals[int(np.argmax(accs))]['epoch'])
      wall.append(history.read(path)[-1]['elapsed_seconds'])
    row = {'label': label(variant), 'variant': [[f, v] for f, v in variant],
           'runs': len(curves), 'diverged': diverged, 'curves': curves}
    if curves:
      row.update(final_val_accuracy=_mean_std(final), best_val_accuracy=_mean_std(best),
                 epochs_to_best=_mean_std(to_best), wall_seconds=_mean_std(wall))
    rows.append(row)
  return rows


def table(rows: List[Dict[str, Any]], seeds: int) -> str:
  lines = ['| variant | runs | final val acc | best val acc | epochs to best | wall time / run |',
           '|---|---|---|---|---|---|']
  for r in rows:
    runs = f'{r["runs"]}/{seeds}' + (f' ({r["diverged"]} diverged)' if r['diverged'] else '')
    if not r['runs']:
      lines.append(f'| {r["label"]} | {runs} | - | - | - | - |')
      continue
    pm = lambda ms, fmt: f'{ms[0]:{fmt}}' + ('' if ms[1] is None else f' ± {ms[1]:{fmt}}')
    lines.append(f'| {r["label"]} | {runs} | {pm(r["final_val_accuracy"], ".4f")} | '
                 f'{pm(r["best_val_accuracy"], ".4f")} | {pm(r["epochs_to_best"], ".1f")} | '
                 f'{pm(r["wall_seconds"], ".0f")} s |')
  return '\n'.join(lines) + ('\n\nmean ± sample std over seeds (a single run: its value, no '
                             'spread); wall time from the run\'s history.\n')


def plot(rows: List[Dict[str, Any]], path: str, title: str = '') -> str:
  """Val accuracy and loss per epoch: mean line and min..max band per variant."""
  # matplotlib (~0.5 s): only once there are curves to draw.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  from cnnlab import figures  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(12.0, 4.6))
  axes = fig.subplots(1, 2)
  colors = [f'C{i % 10}' for i in range(len(rows))]
  for row, color in zip(rows, colors):
    if not row['curves']:
      continue
    epochs = sorted({e for c in row['curves'] for e in c['epoch']})
    for ax, key in zip(axes, ('val_accuracy', 'val_loss')):
      per_epoch = [[c[key][c['epoch'].index(e)] for c in row['curves'] if e in c['epoch']]
                   for e in epochs]
      mean = np.array([np.mean(v) for v in per_epoch])
      ax.plot(epochs, mean, color=color, lw=1.8, marker='o', ms=3,
              label=f'{row["label"]} ({row["runs"]} seeds)')
      if row['runs'] > 1:
        ax.fill_between(epochs, [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                        color=color, alpha=0.15, lw=0)
  for ax, name in zip(axes, ('val accuracy', 'val loss')):
    ax.set_xlabel('epoch')
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
  axes[0].legend(fontsize=8, loc='lower right')
  fig.suptitle((title + ': ' if title else '') +
               'mean over seeds, band = lowest to highest seed', fontsize=10)
  fig.tight_layout()
  return figures.save(fig, path)


def report(variants: List[Variant], seeds: int, workdir: str, title: str = '') -> str:
  """Writes sweep.md / sweep.png / sweep.json in workdir; returns the table."""
  rows = summarize(variants, seeds, workdir)
  text = table(rows, seeds)
  with open(os.path.join(workdir, 'sweep.md'), 'w') as f:
    f.write((f'# {title}\n\n' if title else '') + text)
  with open(os.path.join(workdir, 'sweep.json'), 'w') as f:
    json.dump(rows, f, indent=1, default=str)
  if any(r['curves'] for r in rows):
    plot(rows, os.path.join(workdir, 'sweep.png'), title)
  return text


def main(argv):
  f = FLAGS

  def go():
    if f.seeds < 1:
      raise UserError(f'--seeds={f.seeds} must be >= 1')
    variants = parse_sweeps(f.config, f.sweep or [])
    workdir = os.path.abspath(f.workdir)
    os.makedirs(workdir, exist_ok=True)
    logging.info('Sweep: %d variant(s) x %d seed(s) in %s', len(variants), f.seeds, workdir)
    if not f.report_only:
      run_all(f.config, variants, f.seeds, workdir)
    title = f.title or f'{f.config.model.name}: ' + ' x '.join(
        s.split('=', 1)[0] for s in f.sweep or ['base'])
    print(report(variants, f.seeds, workdir, title))
    print(f'wrote {workdir}/sweep.md, sweep.png, sweep.json')

  cli.run_main(go, argv)


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config(help_text='Base configuration file.')
  flags.DEFINE_multi_string('sweep', [], "FIELD=V1,V2,... (repeat for a cartesian product).")
  flags.DEFINE_integer('seeds', 1, 'Runs per variant, with config.seed + 0, 1, ...')
  cli.define_workdir('Parent of the runs; the report goes here.')
  flags.DEFINE_bool('report_only', False, 'Only rebuild the report from existing runs.')
  flags.DEFINE_string('title', '', 'Title of the plot and table.')


if __name__ == '__main__':
  cli.run_command(main, define_flags)
