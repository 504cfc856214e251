"""cnnlab.api: the notebook workflow in one process, equal to what the commands write."""
import csv
import json
import os
import shutil

from absl import flags
from matplotlib.figure import Figure
import numpy as np
import pytest

from cnnlab import api
from cnnlab.core.errors import UserError
from conftest import make_image_folder, run_module

FIGURES = ('curves', 'confusion_matrix', 'misclassified', 'predictions', 'dashboard')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A conv1 trained by api.train, by config name with overrides, on 36 generated JPEGs."""
  tmp = tmp_path_factory.mktemp('api')
  data = make_image_folder(tmp / 'images', per_class=12)
  config = api.config('vgg', overrides={
      'data.dir': data, 'data.cache_dir': str(tmp / 'cache'), 'data.val_fraction': 0.25,
      'model.name': 'conv1', 'batch_size': 8, 'eval_batch_size': 8, 'num_epochs': 2,
      'log_every_steps': 1})
  workdir = str(tmp / 'run')
  record = api.train(config, workdir)
  return dict(tmp=tmp, data=data, workdir=workdir, record=record)


def test_config_by_name_with_overrides():
  config = api.config('vgg', overrides={'optimizer.lr': 0.05, 'num_epochs': 2,
                                        'data.max_examples': 100})
  assert config.model.name == 'vgg' and config.optimizer.name == 'adam'  # configs/vgg.py's
  assert config.optimizer.lr == 0.05 and config.data.max_examples == 100
  assert config.num_epochs == 2.0 and isinstance(config.num_epochs, float)  # as ml_collections casts
  assert api.config('configs/vgg.py').to_dict() == api.config('vgg').to_dict()
  assert 'airbench_cpu' in api.config_names() and 'seq2seq/addition' in api.config_names()
  with pytest.raises(UserError, match=r"unknown config field 'optimizer.lrr'.*optimizer\.lr"):
    api.config('vgg', overrides={'optimizer.lrr': 0.1})
  with pytest.raises(UserError, match=r"'batch_size' cannot be set to 2.5"):
    api.config('vgg', overrides={'batch_size': 2.5})
  with pytest.raises(UserError, match=r"no config file 'vgg19'.*Available configs: .*vgg"):
    api.config('vgg19')
  with pytest.raises(AttributeError):  # locked: a misspelt field is not silently added
    config.num_epoch = 3


def test_train_and_history(run):
  records = api.history(run['workdir'])
  assert [r['epoch'] for r in records] == [1, 2]
  assert records[-1] == run['record']
  assert run['record']['step'] == 6  # 27 train images // 8 = 3 steps per epoch
  columns = api.history(run['workdir'], columns=True)
  assert columns['epoch'] == [1, 2]
  assert columns['val_accuracy'] == [r['val_accuracy'] for r in records]
  with pytest.raises(UserError, match='no workdir'):
    api.history(os.path.join(run['workdir'], 'nope'))


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def test_evaluate_equals_the_command(run):
  workdir = run['workdir']
  # The val split: what training's report saved, from the same checkpoint and data.
  ev = api.evaluate(workdir)
  assert ev == _read_json(os.path.join(workdir, 'eval_val.json'))
  assert ev['count'] == 9 and np.sum(ev['confusion']) == 9 and ev['split'] == 'val'
  # Another folder: the command on the same data writes the same record.
  ev = api.evaluate(workdir, data_dir=run['data'], name='by_api', report=False)
  result = run_module('cnnlab.evaluate', f'--workdir={workdir}', f'--data_dir={run["data"]}',
                      '--name=by_command', '--report=False')
  assert result.returncode == 0, result.stderr[-3000:]
  written = _read_json(os.path.join(workdir, 'eval_by_command.json'))
  assert ev['count'] == written['count'] == 36
  assert ev['accuracy'] == pytest.approx(written['accuracy'], abs=1e-12)
  assert ev['loss'] == pytest.approx(written['loss'], rel=1e-5)
  drop = lambda r: {k: v for k, v in r.items() if k not in ('name', 'loss')}  # pylint: disable=unnecessary-lambda-assignment
  assert drop(ev) == drop(written)
  # evaluate's and predict's flags stay undefined: a notebook can still run any command.
  assert 'data_name' not in flags.FLAGS and 'label_column' not in flags.FLAGS


def test_predict_rows_match_the_images(run, tmp_path):
  # The labelled images, flattened into an unlabelled folder named 0..35.
  sources = sorted(os.path.join(c, f) for c in ('cat', 'dog', 'frog')
                   for f in os.listdir(os.path.join(run['data'], c)))
  folder = tmp_path / 'unlabelled'
  folder.mkdir()
  for i, rel in enumerate(sources):
    shutil.copy(os.path.join(run['data'], rel), folder / f'{i}.jpg')
  out = str(tmp_path / 'sub.csv')
  preds = api.predict(run['workdir'], str(folder), output=out, probabilities=True)
  assert preds['ids'] == list(range(36)) and [r['id'] for r in preds['rows']] == preds['ids']
  assert preds['probabilities'].shape == (36, 3) and preds['output'] == out
  assert preds['labels'] == [['cat', 'dog', 'frog'][k] for k in preds['probabilities'].argmax(1)]
  # The same numbers as evaluating those images (eval ids: their paths in the folder).
  ev = api.evaluate(run['workdir'], data_dir=run['data'], name='same_images', report=False)
  saved = np.load(os.path.join(run['workdir'], 'eval_same_images_predictions.npz'))
  order = [list(saved['ids']).index(rel) for rel in sources]
  np.testing.assert_allclose(preds['probabilities'], saved['probabilities'][order], atol=1e-5)
  assert ev['count'] == 36
  # The CSV holds the rows, as the command writes them.
  with open(out, newline='') as f:
    lines = list(csv.reader(f))
  assert lines[0] == ['id', 'label', 'cat', 'dog', 'frog']
  assert [r[:2] for r in lines[1:]] == [[str(r['id']), r['label']] for r in preds['rows']]
  np.testing.assert_allclose([[float(v) for v in r[2:]] for r in lines[1:]],
                             [[r[c] for c in ('cat', 'dog', 'frog')] for r in preds['rows']],
                             atol=1e-6)
  assert api.predict(run['workdir'], str(folder))['output'] is None  # no CSV asked for
  assert 'data_name' not in flags.FLAGS and 'label_column' not in flags.FLAGS


def test_figures_are_matplotlib_figures_with_the_data(run):
  workdir = run['workdir']
  figs = api.figures(workdir)
  assert tuple(figs) == FIGURES
  for name, fig in figs.items():
    assert isinstance(fig, Figure) and fig.axes, name
  # The curves: a point per epoch of the history.
  lines = [line for ax in figs['curves'].axes for line in ax.get_lines()
           if line.get_label() == 'val accuracy']
  assert len(lines) == 1
  np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2])
  np.testing.assert_allclose(lines[0].get_ydata(), api.history(workdir, columns=True)['val_accuracy'])
  # The confusion matrix: the evaluation's counts.
  confusion = _read_json(os.path.join(workdir, 'eval_val.json'))['confusion']
  counts = {ax.get_label(): ax for ax in figs['confusion_matrix'].axes}['confusion_counts']
  np.testing.assert_array_equal(counts.images[0].get_array(), confusion)
  # The image grids: the val images drawn (a mosaic, or a message when nothing is wrong).
  assert figs['predictions'].axes[0].images
  assert figs['misclassified'].axes[0].images or figs['misclassified'].axes[0].texts
  # Another evaluation, by its name: its images are loaded from its data_dir.
  api.evaluate(workdir, data_dir=run['data'], name='whole_folder')
  figs = api.figures(workdir, 'whole_folder')
  counts = {ax.get_label(): ax for ax in figs['confusion_matrix'].axes}['confusion_counts']
  assert counts.images[0].get_array().sum() == 36
  with pytest.raises(UserError, match=r"no evaluation named 'test'.*whole_folder"):
    api.figures(workdir, 'test')
