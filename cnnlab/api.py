"""cnnlab from a notebook: every command as a function, in one Python process.

  from cnnlab import api
  config = api.config('vgg', overrides={'num_epochs': 2, 'data.max_examples': 10000})
  record = api.train(config, 'runs/nb')      # the last epoch's metrics
  history = api.history('runs/nb')           # a record per epoch
  ev = api.evaluate('runs/nb')               # accuracy, loss, count, confusion, ...
  preds = api.predict('runs/nb', 'path/to/images')
  figs = api.figures('runs/nb')              # {'curves': Figure, 'confusion_matrix': ...}

Each function is what its command does (cnnlab.main, cnnlab.evaluate,
cnnlab.predict, the report) and shares its code: the same files land in the
workdir, so a run started here can be evaluated with `python -m
cnnlab.evaluate` and the other way round. Bad input raises
cnnlab.core.errors.UserError with the message the command would print. No
flags are defined and nothing global changes on import.

On a CPU, cnnlab's XLA defaults (cnnlab.core.xla_flags, measured faster for
its conv nets) apply only if set before JAX's first computation: call
`xla_flags.set_cpu_defaults()` at the top of the notebook, as the commands do.
"""
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Union

import ml_collections
import numpy as np

from cnnlab import evaluate as evaluate_lib
from cnnlab import inference
from cnnlab import predict as predict_lib
from cnnlab import report as report_lib
from cnnlab import train as train_lib
from cnnlab.core import cli
from cnnlab.core import configs
from cnnlab.core import history as history_lib
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError


def config_names() -> List[str]:
  """The configs api.config takes by name: 'airbench', ..., 'vgg', 'seq2seq/addition', ..."""
  return configs.names()


def config(name_or_path: str = 'vgg', overrides: Optional[Mapping[str, Any]] = None
           ) -> ml_collections.ConfigDict:
  """A config by name ('vgg', 'airbench_cpu') or path ('configs/vgg.py'), with overrides.

  Args:
    name_or_path: found from any working directory (cnnlab.core.configs).
    overrides: {dotted field: value}, as --config.<field>=<value> on the command
      line: {'optimizer.lr': 1e-3, 'num_epochs': 2, 'data.dir': 'path/to/folder'}.

  Returns:
    The locked ConfigDict: fields can be changed (`config.num_epochs = 3`), a
    misspelt one (`config.num_epoch = 3`) is an error.

  Raises:
    UserError: an unknown config (the available names listed), an unknown field
      (the close names listed) or a value of the wrong type.
  """
  return configs.load(name_or_path, overrides)


def train(config: Union[ml_collections.ConfigDict, str], workdir: str) -> Dict[str, Any]:
  """Trains as `python -m cnnlab.main` does; rerunning with the same workdir resumes.

  Args:
    config: a ConfigDict (api.config), or a config name or path.
    workdir: where checkpoints, metrics.jsonl, meta.json and the report go.

  Returns:
    The last epoch's record (train/val loss and accuracy, lr, images/s, ...).
  """
  if isinstance(config, str):
    config = configs.load(config)
  cli.configure_logging()  # the per-epoch lines, as the command prints them
  return train_lib.train_and_evaluate(config, workdir)


def history(workdir: str, columns: bool = False
            ) -> Union[List[Dict[str, Any]], Dict[str, List[Any]]]:
  """The run's per-epoch records (metrics.jsonl), readable while it trains.

  Args:
    workdir: the run's workdir.
    columns: return {field: [value per epoch]} instead (None where an epoch
      lacks the field, e.g. val_accuracy between evaluations); plots as
      `plt.plot(h['epoch'], h['val_accuracy'])`, loads as `pandas.DataFrame(h)`.
  """
  if not os.path.isdir(workdir):
    raise UserError(f'no workdir {workdir!r}: train into it first (api.train)')
  records = history_lib.read(workdir)
  if not columns:
    return records
  keys = list(dict.fromkeys(k for r in records for k in r))
  return {k: [r.get(k) for r in records] for k in keys}


def evaluate(workdir: str, data_dir: Optional[str] = None, tta: str = '', *, data_name: str = '',
             split: str = '', step: Optional[int] = None, image_size: int = 0,
             name: str = '', report: bool = True) -> Dict[str, Any]:
  """Evaluates as `python -m cnnlab.evaluate` does, writing the same files.

  Args:
    workdir: the run's workdir.
    data_dir: an image folder or .npz/.npy file with the training classes;
      None = the run's val split (split='test': its test part), or data_name
      with split.
    tta: test-time augmentation (cnnlab.tta: flip, airbench); '' = none.
    data_name, split, step, image_size, name, report: as the command's flags.

  Returns:
    What <workdir>/eval_<name>.json holds: accuracy, loss, count, confusion
    (counts [true, predicted]), name, step, class_names, label_values, ...;
    api.figures(workdir, name) draws it.
  """
  record, _ = evaluate_lib.evaluate_workdir(workdir, data_dir or '', data_name, split, step,
                                            image_size, name, tta, report)
  return record


def predict(workdir: str, input_path: str, output: Optional[str] = None, *, tta: str = '',
            probabilities: bool = False, step: Optional[int] = None,
            batch_size: Optional[int] = None, label_column: str = 'label') -> Dict[str, Any]:
  """Predicts unlabelled images as `python -m cnnlab.predict` does.

  Args:
    workdir: the run's workdir.
    input_path: a folder of images (ids: the file names) or a .npz/.npy file.
    output: also write the command's CSV here (id,label[,probability per class]).
    tta: test-time augmentation; '' = none.
    probabilities: a probability per class in the rows (and the CSV).
    step, batch_size, label_column: as the command's flags.

  Returns:
    {'rows': [{'id': ..., 'label': ...}, ...] (the CSV's rows, in its order),
     'ids', 'labels' (the predicted original labels), 'probabilities' [N, K],
     'label_values', 'class_names', 'step', 'tta', 'output'}.
  """
  return predict_lib.predict_workdir(workdir, input_path, output or '', tta, step, batch_size,
                                     probabilities, label_column)


def figures(workdir: str, name: str = 'val') -> Dict[str, Any]:
  """The report's figures of an evaluation, as matplotlib Figures for inline display.

  The same figures the report saves as PNG (cnnlab.report): 'curves' (loss
  and accuracy per epoch, lr), 'confusion_matrix' (counts and row-normalized),
  'misclassified' (the most confident mistakes), 'predictions' (random images
  per class, "computer: X / human: Y") and 'dashboard'. In a notebook, show
  one by making it a cell's last value or with `display(fig)`.

  Args:
    workdir: the run's workdir.
    name: the evaluation: 'val' (what training's report evaluates, or
      api.evaluate(workdir)) or the name api.evaluate returned for other data.
      Its images are loaded again from the data it names.

  Returns:
    {figure name: matplotlib.figure.Figure}; only 'curves' for a run trained
    without a val split that was never evaluated.
  """
  # matplotlib (~0.5 s): only for a run never evaluated.
  from cnnlab import figures as figures_lib  # pylint: disable=g-import-not-at-top
  workdir = os.path.abspath(workdir)
  meta = workdir_lib.read_meta(workdir)
  records = history_lib.read(workdir)
  path = os.path.join(workdir, f'eval_{name}.json')
  if not os.path.exists(path):
    if name == report_lib.DEFAULT_NAME and not meta.get('data', {}).get('num_val', 1):
      return {'curves': figures_lib.curves_figure(records, os.path.basename(workdir))}
    done = sorted(f[len('eval_'):-len('.json')] for f in os.listdir(workdir)
                  if f.startswith('eval_') and f.endswith('.json'))
    raise UserError(f'{workdir!r} has no evaluation named {name!r} (has: '
                    f'{", ".join(done) or "none"}): run api.evaluate({workdir!r}) first '
                    '(or api.evaluate(workdir, data_dir=...) for other data)')
  with open(path) as f:
    record = json.load(f)
  saved = np.load(os.path.join(workdir, f'eval_{name}_predictions.npz'))
  # The evaluated images, loaded again as evaluate loaded them (no checkpoint needed).
  run = inference.Run(workdir, ml_collections.ConfigDict(meta['config']), meta, state=None,
                      step=record['step'], pipeline=None, mesh=None)
  split, data_dir = record.get('split'), record.get('data_dir') or ''
  if split == report_lib.TEST_SPLIT and not data_dir and not record.get('data_name'):
    data_dir, data_name = '', ''  # the run's own test part
  elif split == report_lib.VAL_SPLIT or (split is None and (name == report_lib.DEFAULT_NAME
                                                            or not data_dir)):
    data_dir, data_name, split = '', '', report_lib.VAL_SPLIT
  elif data_dir:
    data_name, split = '', 'test'
  else:
    data_name = record['data_name']
  _, dataset = evaluate_lib.load_eval_data(run, data_dir, data_name, split,
                                           record.get('image_size', 0))
  if not np.array_equal(dataset.labels, saved['labels']):
    raise UserError(f'the data of evaluation {name!r} changed since it was evaluated: run '
                    f'api.evaluate({workdir!r}, ...) again')
  return report_lib.report_figures(
      confusion=record['confusion'], class_names=record['class_names'], images=dataset.images,
      labels=saved['labels'], probabilities=saved['probabilities'], records=records,
      title=report_lib.evaluation_title(workdir, name, record['step'], record.get('tta', '')))
