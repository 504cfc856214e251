r"""Reports people look at: figures, per-class tables and run comparisons.

Every training run (on its val split, best checkpoint) and every
`python -m cnnlab.evaluate` writes, headless, into <workdir>/report/ (the val
split) or <workdir>/report/<name>/ (any other evaluation):

  curves.png            loss and accuracy per epoch, train vs val, lr on a second axis
  confusion_matrix.png  counts and row-normalized, class names on both axes
  misclassified.png     the most confident mistakes: true class, predicted class, confidence
  predictions.png       ten random images per class, "computer: X / human: Y"
  dashboard.png         curves + normalized confusion matrix + a row of mistakes
  per_class.md, .csv    precision, recall, F1, support per class; accuracy, macro, weighted
  steps.png, accuracy_vs_lr.png  per-batch curves, when the run kept step records
                        (config.log_step_records; cnnlab.step_figures)

A run with a test part (the source's official test split, or data.test_fraction) also evaluates it once, at the
end, into <workdir>/eval_test.json and report/test/.

plus TensorBoard scalars under <workdir>/tensorboard/ (cnnlab.tensorboard).

Comparing runs:

  python -m cnnlab.report --workdirs runs/a runs/b runs/c --out=compare.png

draws their val accuracy and loss per epoch on one figure with a table of the
runs, and writes the table beside it as compare.md and compare.csv; runs with
step records also get compare_steps.png (per-batch moving averages).
"""
import csv
import io
import json
import logging
import math
import os
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cnnlab import input_pipeline
from cnnlab import models
from cnnlab import tensorboard
from cnnlab.core import cli
from cnnlab.core import history
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError

REPORT_DIR = 'report'
DEFAULT_NAME = 'val'  # the evaluation whose report lands in <workdir>/report/ itself
# eval_<name>.json's `split` when the run's own validation split was evaluated
# (a tfds evaluation records its split; a folder or arrays file its data_dir).
VAL_SPLIT = 'val'
# ... and when its test part (official split or data.test_fraction's) was: eval_test.json.
TEST_SPLIT = 'test'


# ---- per-class metrics --------------------------------------------------------------

def per_class_metrics(confusion: Any, class_names: Sequence[str]) -> Dict[str, Any]:
  """Precision, recall, F1 and support per class from confusion counts [true, pred].

  The same numbers as `sklearn.metrics.classification_report(y_true, y_pred,
  labels=range(K), output_dict=True)`: a 0/0 ratio (a class never predicted,
  or absent from the data) counts as 0, F1 is 2tp / (support + predicted).

  Returns:
    {'classes': [{'class', 'precision', 'recall', 'f1', 'support'}, ...],
     'accuracy', 'count', 'macro avg': {...}, 'weighted avg': {...}}.
  """
  c = np.asarray(confusion, np.int64)
  if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] != len(class_names):
    raise ValueError(f'confusion of shape {c.shape} does not match {len(class_names)} classes')
  tp = np.diag(c).astype(np.float64)
  support = c.sum(axis=1).astype(np.float64)
  predicted = c.sum(axis=0).astype(np.float64)

  def divide(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

  precision, recall = divide(tp, predicted), divide(tp, support)
  f1 = divide(2 * tp, support + predicted)
  total = float(support.sum())
  classes = [dict(name=str(n), precision=float(p), recall=float(r), f1=float(f),
                  support=int(s))
             for n, p, r, f, s in zip(class_names, precision, recall, f1, support)]
  weights = support / total if total else np.zeros_like(support)

  def average(w):
    return dict(precision=float(np.sum(precision * w)), recall=float(np.sum(recall * w)),
                f1=float(np.sum(f1 * w)), support=int(total))

  return {'classes': classes,
          'accuracy': float(tp.sum() / total) if total else 0.0,
          'count': int(total),
          'macro avg': average(np.full_like(support, 1.0 / len(class_names))),
          'weighted avg': average(weights)}


CSV_HEADER = ('class', 'precision', 'recall', 'f1', 'support')


def per_class_csv(metrics: Dict[str, Any]) -> str:
  """CSV text: a row per class, then accuracy, macro avg and weighted avg.

  As in sklearn's text report, the accuracy row has the accuracy in the f1
  column and the number of images as support.
  """
  out = io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  writer.writerow(CSV_HEADER)
  for row in metrics['classes']:
    writer.writerow([row['name']] + [repr(row[k]) for k in ('precision', 'recall', 'f1')]
                    + [row['support']])
  writer.writerow(['accuracy', '', '', repr(metrics['accuracy']), metrics['count']])
  for key in ('macro avg', 'weighted avg'):
    row = metrics[key]
    writer.writerow([key] + [repr(row[k]) for k in ('precision', 'recall', 'f1')]
                    + [row['support']])
  return out.getvalue()


def _md_escape(text: str) -> str:
  return str(text).replace('|', '\\|')


def per_class_markdown(metrics: Dict[str, Any], title: str = '', note: str = '') -> str:
  """A Markdown table of `metrics`, worst F1 marked, then the averages.

  note: a caveat printed above the table (e.g. val_source_note).
  """
  classes = metrics['classes']
  lines = []
  if title:
    lines += [f'# {title}', '']
  if note:
    lines += [f'> **Note:** {note}', '']
  lines += [f'Accuracy **{metrics["accuracy"]:.4f}** on {metrics["count"]:,} images; '
            f'macro F1 {metrics["macro avg"]["f1"]:.4f}.', '']
  worst = min(range(len(classes)), key=lambda i: classes[i]['f1']) if classes else -1
  lines += ['| class | precision | recall | F1 | support |',
            '|:--|--:|--:|--:|--:|']
  for i, row in enumerate(classes):
    name = _md_escape(row['name']) + (' (lowest F1)' if i == worst and len(classes) > 1 else '')
    lines.append(f'| {name} | {row["precision"]:.4f} | {row["recall"]:.4f} | '
                 f'{row["f1"]:.4f} | {row["support"]:,} |')
  lines.append(f'| **accuracy** | | | {metrics["accuracy"]:.4f} | {metrics["count"]:,} |')
  for key in ('macro avg', 'weighted avg'):
    row = metrics[key]
    lines.append(f'| **{key}** | {row["precision"]:.4f} | {row["recall"]:.4f} | '
                 f'{row["f1"]:.4f} | {row["support"]:,} |')
  return '\n'.join(lines) + '\n'


# ---- saving evaluations and their reports ------------------------------------------

def report_dir(workdir: str, name: str = DEFAULT_NAME) -> str:
  """<workdir>/report for the val split, <workdir>/report/<name> for other data."""
  base = os.path.join(workdir, REPORT_DIR)
  return base if name == DEFAULT_NAME else os.path.join(base, name)


def _write_text(path: str, text: str) -> str:
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)
  return path


_NUMBER_LIST = re.compile(r'\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]')


def compact_json(record: Dict[str, Any]) -> str:
  """JSON with indent 2, but each list of numbers on one line (a confusion row per line)."""
  text = json.dumps(record, indent=2)
  return _NUMBER_LIST.sub(lambda m: '[' + re.sub(r',\s*', ', ', m.group(1)) + ']', text) + '\n'


def evaluation_record(name: str, result: Dict[str, Any], **info: Any) -> Dict[str, Any]:
  """What eval_<name>.json holds: steps.evaluate's metrics, the name and `info`."""
  record = {k: v for k, v in result.items() if k != 'probabilities'}
  record.update(name=name, **info)
  return record


def write_evaluation(workdir: str, name: str, result: Dict[str, Any], labels: np.ndarray,
                     probabilities: np.ndarray, ids: Optional[np.ndarray] = None,
                     **info: Any) -> str:
  """<workdir>/eval_<name>.json (metrics, confusion) and eval_<name>_predictions.npz.

  Args:
    workdir: the run's workdir.
    name: the evaluation's name.
    result: steps.evaluate's dict (loss, accuracy, count, confusion), without
      'probabilities'.
    labels, probabilities: per image, for the .npz.
    ids: per-image ids (default 0..N-1).
    **info: more JSON fields (step, class_names, data_dir, tta, ...).

  Returns:
    The path of the JSON file.
  """
  path = os.path.join(workdir, f'eval_{name}.json')
  _write_text(path, compact_json(evaluation_record(name, result, **info)))
  np.savez(os.path.join(workdir, f'eval_{name}_predictions.npz'), labels=np.asarray(labels),
           probabilities=np.asarray(probabilities),
           ids=ids if ids is not None else np.arange(len(labels)))
  return path


def report_figures(*, confusion: Any, class_names: Sequence[str], images: np.ndarray,
                   labels: np.ndarray, probabilities: np.ndarray,
                   records: Sequence[Dict[str, Any]] = (), title: str = '') -> Dict[str, Any]:
  """The report's figures of one evaluation as matplotlib Figures, by name.

  Args:
    confusion: counts [true, predicted] as evaluated (what the tables use).
    class_names: name of each class index.
    images: uint8 [N, H, W, C], the evaluated images in order.
    labels: int [N] true class indices.
    probabilities: [N, K] predicted probabilities.
    records: the run's metrics.jsonl records, for the curves.
    title: a heading, e.g. 'runs/vgg, val split, step 3510'.

  Returns:
    {'curves', 'confusion_matrix', 'misclassified', 'predictions', 'dashboard': Figure};
    write_report saves each as <name>.png.
  """
  from cnnlab import figures  # pylint: disable=g-import-not-at-top  (matplotlib: ~0.5 s)
  probabilities = np.asarray(probabilities)
  labels = np.asarray(labels)
  predicted = probabilities.argmax(axis=-1) if len(labels) else np.zeros(0, np.int64)
  confidence = probabilities.max(axis=-1) if len(labels) else np.zeros(0)
  return {
      'curves': figures.curves_figure(records, title),
      'confusion_matrix': figures.confusion_figure(confusion, class_names, title),
      'misclassified': figures.misclassified_figure(
          images, labels, predicted, confidence, class_names),
      'predictions': figures.predictions_figure(images, labels, predicted, class_names),
      'dashboard': figures.dashboard_figure(
          records, confusion, class_names, images, labels, predicted, confidence, title),
  }


def write_report(out_dir: str, *, confusion: Any, class_names: Sequence[str],
                 images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                 records: Sequence[Dict[str, Any]] = (), title: str = '',
                 note: str = '') -> Dict[str, str]:
  """Writes every figure (report_figures, as PNG) and table of one evaluation into `out_dir`.

  Args: as report_figures, and out_dir: the report folder (created); note: a
    caveat for per_class.md (see val_source_note).

  Returns:
    {file name: path} of what was written.
  """
  from cnnlab import figures  # pylint: disable=g-import-not-at-top  (matplotlib: ~0.5 s)
  os.makedirs(out_dir, exist_ok=True)
  written = {}
  for name, fig in report_figures(confusion=confusion, class_names=class_names, images=images,
                                  labels=labels, probabilities=probabilities, records=records,
                                  title=title).items():
    written[f'{name}.png'] = figures.save(fig, os.path.join(out_dir, f'{name}.png'))
  metrics = per_class_metrics(confusion, class_names)
  written['per_class.md'] = _write_text(os.path.join(out_dir, 'per_class.md'),
                                        per_class_markdown(metrics, title, note))
  written['per_class.csv'] = _write_text(os.path.join(out_dir, 'per_class.csv'),
                                         per_class_csv(metrics))
  return written


def write_eval_scalars(workdir: str, name: str, result: Dict[str, Any],
                       class_names: Sequence[str], epoch: int,
                       dashboard: Optional[str] = None) -> None:
  """An evaluation's accuracy, loss and per-class P/R/F1 (and dashboard) in TensorBoard."""
  metrics = per_class_metrics(result['confusion'], class_names)
  scalars = {'accuracy': result['accuracy'], 'loss': result['loss'],
             'macro_f1': metrics['macro avg']['f1']}
  for row in metrics['classes']:
    for key in ('precision', 'recall', 'f1'):
      # TensorBoard tags: '/' nests and spaces are refused ('T-shirt/top', 'Ankle boot').
      scalars[f'{key}/{re.sub(r"[^A-Za-z0-9_.-]", "_", row["name"])}'] = row[key]
  tensorboard.write_scalars(os.path.join(workdir, tensorboard.SUBDIR, f'eval_{name}'),
                            scalars, epoch, {'dashboard': dashboard} if dashboard else None)


def epoch_of(meta: Dict[str, Any], step: int) -> int:
  return int(math.ceil(step / max(int(meta.get('steps_per_epoch') or 1), 1)))


def evaluation_title(workdir: str, name: str, step: int, tta: str = '') -> str:
  """The heading of an evaluation's figures: '<run>: <name>, step <step>[, TTA <tta>]'."""
  title = f'{os.path.basename(os.path.normpath(workdir))}: {name}, step {step}'
  return title + (f', TTA {tta}' if tta else '')


def report_evaluation(workdir: str, name: str, result: Dict[str, Any], dataset,
                      probabilities: np.ndarray, step: int, meta: Dict[str, Any],
                      note: str = '', **info: Any) -> Dict[str, str]:
  """Saves an evaluation (JSON, predictions) and writes its report and scalars.

  Args:
    workdir: the run's workdir.
    name: the evaluation's name ('val' goes to <workdir>/report/).
    result: steps.evaluate's dict.
    dataset: the evaluated input_pipeline.Dataset (labels aligned to the run).
    probabilities: [N, K].
    step: the evaluated checkpoint's step.
    meta: the run's meta.json.
    note: a caveat for eval_<name>.json and per_class.md ('' = none).
    **info: more fields for eval_<name>.json.

  Returns:
    {file name: path} of everything written.
  """
  class_names = meta['class_names']
  if note:
    info['note'] = note
  written = {'eval.json': write_evaluation(
      workdir, name, result, dataset.labels, probabilities, dataset.ids, step=step,
      class_names=class_names, **info)}
  title = evaluation_title(workdir, name, step, info.get('tta', ''))
  written.update(write_report(
      report_dir(workdir, name), confusion=result['confusion'], class_names=class_names,
      images=dataset.images, labels=dataset.labels, probabilities=probabilities,
      records=history.read(workdir), title=title, note=note))
  write_eval_scalars(workdir, name, result, class_names, epoch_of(meta, step),
                     written.get('dashboard.png'))
  return written


def val_source_note(config) -> str:
  """What validating on data.val_dir / data.val_split means for its numbers ('' if neither)."""
  d = config.data
  if d.get('val_dir'):
    source = f'data.val_dir={d.val_dir!r}'
  elif d.get('val_split'):
    source = f'the {d.name} split data.val_split={d.val_split!r}'
  else:
    return ''
  return (f'validated on {source} (data.val_fraction is ignored): '
          'the best checkpoint and every other decision (early stopping, reduce-on-plateau) '
          'were chosen on it, so if this is a test split, the accuracy reported on it is '
          'optimistic. Hold out a test part (data.test_fraction) for a number no decision saw.')


def step_report(workdir: str) -> Dict[str, str]:
  """Seed 000's per-batch figures from <workdir>/steps.jsonl into <workdir>/report/.

  steps.png: loss and accuracy of every batch with their moving averages,
  lr on a second axis; accuracy_vs_lr.png: the lr per step and the moving
  average of the batch accuracy against the lr (seed 000's LR range plot).
  Nothing without step records (config.log_step_records=False).
  """
  # matplotlib (~0.5 s): only for a run with step records.
  from cnnlab import figures  # pylint: disable=g-import-not-at-top
  from cnnlab import step_figures  # pylint: disable=g-import-not-at-top
  records = history.read_steps(workdir)
  if not records:
    return {}
  out = report_dir(workdir)
  os.makedirs(out, exist_ok=True)
  title = os.path.basename(os.path.normpath(workdir))
  return {'steps.png': figures.save(step_figures.steps_figure(records, title),
                                    os.path.join(out, 'steps.png')),
          'accuracy_vs_lr.png': figures.save(step_figures.accuracy_vs_lr_figure(records, title),
                                             os.path.join(out, 'accuracy_vs_lr.png'))}


def curves_only(workdir: str) -> Dict[str, str]:
  """The report of a run without a val split (val_fraction=0): its training curves."""
  from cnnlab import figures  # pylint: disable=g-import-not-at-top  (matplotlib: ~0.5 s)
  logging.info('No validation split (data.val_fraction=0): nothing to report on but the '
               'training curves in %s. Evaluate the run on held-out data with: python -m '
               'cnnlab.evaluate --workdir=%s --data_dir=<folder>', report_dir(workdir), workdir)
  written = {'curves.png': figures.save(figures.curves_figure(history.read(workdir)),
                                        os.path.join(report_dir(workdir), 'curves.png'))}
  written.update(step_report(workdir))
  return written


def after_training(workdir: str, result: Dict[str, Any], probabilities: np.ndarray, val_ds,
                   step: int, config, meta: Dict[str, Any]) -> Optional[Dict[str, str]]:
  """The training run's report from its finished evaluation of the best checkpoint on val.

  cnnlab.train evaluates (collectively, on every process) and calls this on
  the main process. A failing figure is logged, never raised: the run itself
  is complete and checkpointed. Validated on data.val_dir or val_split,
  the report and the log carry val_source_note.
  """
  note = val_source_note(config)
  try:
    # With config.tta, the evaluation used TTA (steps.make_eval_fn): say so.
    tta = {'tta': config.tta} if config.get('tta') else {}
    written = report_evaluation(workdir, DEFAULT_NAME, result, val_ds, probabilities, step,
                                meta, note=note, data_dir=config.data.dir,
                                data_name=config.data.name, split=VAL_SPLIT, **tta)
    written.update(step_report(workdir))
  except Exception:  # pylint: disable=broad-except
    # `python -m cnnlab.evaluate` retries the report.
    logging.exception('Writing the report into %s failed; the trained checkpoints are fine. '
                      'Retry with: python -m cnnlab.evaluate --workdir=%s', report_dir(workdir),
                      workdir)
    return None
  logging.info('Report of the best checkpoint (step %d, val accuracy %.4f): %s', step,
               result['accuracy'], report_dir(workdir))
  if note:
    logging.warning('Note: %s', note)
  return written


TEST_NAME = 'test'  # eval_test.json: the test part (official or test_fraction's), read once


def after_test(workdir: str, result: Dict[str, Any], probabilities: np.ndarray, test_ds,
               step: int, config, meta: Dict[str, Any]) -> str:
  """Saves the one evaluation of the test part as eval_test.json (as cnnlab.evaluate would).

  With config.report its figures and tables go to <workdir>/report/test/.
  Returns the JSON's path.
  """
  # No data_dir / data_name: the run's own test part (cnnlab.evaluate --split=test and
  # api.figures load it again from the run's config).
  info = dict(data_dir='', data_name='', split=TEST_SPLIT, tta=config.get('tta', ''),
              label_values=meta['label_values'],
              test_source=input_pipeline.test_source(config.data))
  if config.report:
    path = report_evaluation(workdir, TEST_NAME, result, test_ds, probabilities, step, meta,
                             **info)['eval.json']
  else:
    path = write_evaluation(workdir, TEST_NAME, result, test_ds.labels, probabilities,
                            test_ds.ids, step=step, class_names=meta['class_names'], **info)
  logging.info('Test part (%d images, never used for training or any decision): accuracy '
               '%.4f, loss %.4f at the best checkpoint (step %d) -> %s', result['count'],
               result['accuracy'], result['loss'], step, path)
  return path


# ---- comparing runs -----------------------------------------------------------------

COMPARE_HEADER = ('run', 'model', 'params', 'epochs', 'best val acc', 'at epoch',
                  'final val loss', 'train time', 'config differences')
# Config fields that differ between runs without being a choice worth listing.
IGNORED_CONFIG_FIELDS = ('data.cache_dir',)


def _flatten(tree: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def config_differences(configs: Sequence[Dict[str, Any]]) -> List[str]:
  """Per run, 'field=value' of the config fields whose values differ between runs."""
  flat = [_flatten(c or {}) for c in configs]
  keys = sorted({k for f in flat for k in f} - set(IGNORED_CONFIG_FIELDS))
  differ = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
  return [', '.join(f'{k}={f.get(k)}' for k in differ) for f in flat]


def _param_count(meta: Dict[str, Any]) -> Optional[int]:
  """Parameters of the run's model (shapes only, nothing computed)."""
  try:
    model = models.from_config(ml_collections.ConfigDict(meta['config']).model,
                               meta['num_classes'])
    x = jnp.zeros((1,) + tuple(meta['image_shape']), jnp.float32)
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    return int(sum(v.size for v in jax.tree_util.tree_leaves(variables.get('params', {}))))
  except Exception:  # pylint: disable=broad-except  (a table cell is not worth a crash)
    return None


def _duration(seconds: Optional[float]) -> str:
  if seconds is None:
    return '-'
  seconds = int(round(seconds))
  return f'{seconds // 3600}h{seconds // 60 % 60:02d}m' if seconds >= 3600 else \
      f'{seconds // 60}m{seconds % 60:02d}s'


def run_names(workdirs: Sequence[str]) -> List[str]:
  """Short distinct names: the last path component, more where two collide."""
  parts = [os.path.normpath(os.path.abspath(w)).split(os.sep) for w in workdirs]
  for depth in range(1, max(len(p) for p in parts) + 1):
    names = ['/'.join(p[-depth:]) for p in parts]
    if len(set(names)) == len(names):
      return names
  return [str(i) for i in range(len(workdirs))]


def compare_runs(workdirs: Sequence[str]) -> Dict[str, Any]:
  """Histories and a summary row per run: {'runs': [(name, records)], 'rows': [...]}."""
  runs, rows = [], []
  metas = [workdir_lib.read_meta(w) for w in workdirs]
  differences = config_differences([m.get('config') for m in metas])
  for name, workdir, meta, differ in zip(run_names(workdirs), workdirs, metas, differences):
    records = history.read(workdir)
    if not records:
      raise UserError(f'{workdir!r} has no metrics.jsonl records yet: train it first')
    vals = [r for r in records if r.get('val_accuracy') is not None]
    best = max(vals, key=lambda r: r['val_accuracy']) if vals else None
    last_loss = vals[-1]['val_loss'] if vals else None
    params = _param_count(meta)
    rows.append({'run': name, 'workdir': workdir, 'model': meta.get('model', '?'),
                 'params': params, 'epochs': _whole(records[-1]['epoch']),
                 'best_val_accuracy': best['val_accuracy'] if best else None,
                 'best_epoch': _whole(best['epoch']) if best else None,
                 'final_val_loss': last_loss,
                 'train_seconds': records[-1].get('elapsed_seconds'),
                 'config_differences': differ})
    runs.append((name, records))
  return {'runs': runs, 'rows': rows}


def _whole(epoch: float):
  """A record's epoch (training done, a float) as 2 where it is whole, else 2.5."""
  return int(epoch) if float(epoch).is_integer() else epoch


def _cells(row: Dict[str, Any]) -> List[str]:
  fmt = lambda v, f: '-' if v is None else format(v, f)  # pylint: disable=unnecessary-lambda-assignment
  return [row['run'], row['model'], fmt(row['params'], ','), fmt(row['epochs'], 'g'),
          fmt(row['best_val_accuracy'], '.4f'), fmt(row['best_epoch'], 'g'),
          fmt(row['final_val_loss'], '.4f'), _duration(row['train_seconds']),
          row['config_differences'] or '-']


def compare_markdown(rows: Sequence[Dict[str, Any]]) -> str:
  lines = ['| ' + ' | '.join(COMPARE_HEADER) + ' |',
           '|' + '|'.join([':--', ':--'] + ['--:'] * (len(COMPARE_HEADER) - 3) + [':--']) + '|']
  lines += ['| ' + ' | '.join(_md_escape(c) for c in _cells(r)) + ' |' for r in rows]
  return '\n'.join(lines) + '\n'


def compare_steps(rows: Sequence[Dict[str, Any]], path: str) -> Dict[str, str]:
  """<path>: the runs' per-batch moving averages, when any run kept step records.

  Seed 000's optimizer comparison (runs trained with config.log_step_records).
  """
  # matplotlib (~0.5 s): only when some run kept step records.
  from cnnlab import figures  # pylint: disable=g-import-not-at-top
  from cnnlab import step_figures  # pylint: disable=g-import-not-at-top
  runs = [(r['run'], history.read_steps(r['workdir'])) for r in rows]
  if not any(records for _, records in runs):
    return {}
  missing = [name for name, records in runs if not records]
  if missing:
    logging.info('No step records (config.log_step_records) in %s: left out of %s',
                 ', '.join(missing), path)
  return {'steps_png': figures.save(step_figures.compare_steps_figure(runs), path)}


def write_comparison(workdirs: Sequence[str], out: str) -> Dict[str, str]:
  """compare.png, compare.md and compare.csv of `workdirs` (names from `out`)."""
  from cnnlab import figures  # pylint: disable=g-import-not-at-top  (matplotlib: ~0.5 s)
  data = compare_runs(workdirs)
  # Best first in the table; the legend keeps the order given.
  rows = sorted(data['rows'], key=lambda r: -(r['best_val_accuracy'] or -1))
  stem = os.path.splitext(out)[0]
  # The figure's table cuts long config differences; .md and .csv keep them whole.
  cells = [_cells(r)[:-1] + [figures.shorten(_cells(r)[-1], 60)] for r in data['rows']]
  written = {'png': figures.save(figures.compare_figure(data['runs'], cells, COMPARE_HEADER),
                                 out)}
  written.update(compare_steps(data['rows'], stem + '_steps.png'))
  written['md'] = _write_text(stem + '.md', compare_markdown(rows))
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator='\n')
  writer.writeheader()
  writer.writerows(rows)
  written['csv'] = _write_text(stem + '.csv', buf.getvalue())
  return written


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  flags.DEFINE_list('workdirs', [], 'Workdirs of the runs to compare (space or comma separated).')
  flags.DEFINE_string('out', 'compare.png', 'Output figure; the table goes beside it as '
                      '.md and .csv.')


def main(argv: Sequence[str]) -> None:
  # `--workdirs a b c` (space separated, e.g. a shell glob) leaves b c in argv.
  workdirs = list(flags.FLAGS.workdirs or []) + list(argv[1:])

  def run():
    if not workdirs:
      raise UserError('pass the runs to compare: --workdirs runs/a runs/b ...')
    written = write_comparison(workdirs, flags.FLAGS.out)
    with open(written['md']) as f:
      sys.stdout.write(f.read())
    steps_png = f', {written["steps_png"]}' if 'steps_png' in written else ''
    print(f'-> {written["png"]}, {written["md"]}, {written["csv"]}{steps_png}')

  cli.run_main(run)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
