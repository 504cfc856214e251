"""Reports: figures of a tiny real run, per-class P/R/F1 against sklearn, TensorBoard, TTA."""
import csv
import dataclasses
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from cnnlab import steps

from cnnlab import figures
from cnnlab.core import history
from cnnlab import report
from cnnlab import tensorboard
from conftest import make_image_folder, run_module, tiny_config

FIGURES = ('curves.png', 'confusion_matrix.png', 'misclassified.png', 'predictions.png',
           'dashboard.png')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A 2-epoch run on 3 generated classes; the report's Figure objects captured."""
  from cnnlab import train  # pylint: disable=g-import-not-at-top
  tmp = tmp_path_factory.mktemp('run')
  data = make_image_folder(tmp / 'images', per_class=12, size=16)
  config = tiny_config(data, tmp, report=True)
  workdir = str(tmp / 'workdir')
  drawn = {}
  save = figures.save

  def capture(fig, path):
    drawn[os.path.relpath(path, workdir)] = fig
    return save(fig, path)

  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(figures, 'save', capture)
    train.train_and_evaluate(config, workdir)
  return dict(workdir=workdir, config=config, data=data, drawn=drawn)


def _png(path):
  with Image.open(path) as img:
    img.load()
    return img.format, img.size, np.asarray(img.convert('RGB'))


def test_training_writes_every_report_file(trained):
  out = os.path.join(trained['workdir'], 'report')
  assert sorted(os.listdir(out)) == sorted(FIGURES + ('per_class.md', 'per_class.csv'))
  for name in FIGURES:
    fmt, size, pixels = _png(os.path.join(out, name))
    fig = trained['drawn'][os.path.join('report', name)]
    assert fmt == 'PNG'
    # Exactly the figure's size (nothing cropped by a tight bbox), and not blank.
    assert size == figures.pixel_size(fig), name
    assert min(size) >= 150, name
    assert pixels.std() > 10, name
  assert _png(os.path.join(out, 'curves.png'))[1] == (
      round(figures.CURVES_SIZE[0] * figures.DPI), round(figures.CURVES_SIZE[1] * figures.DPI))
  md = open(os.path.join(out, 'per_class.md')).read()
  for name in ('cat', 'dog', 'frog', 'macro avg', 'weighted avg', 'accuracy'):
    assert name in md
  evaluation = json.load(open(os.path.join(trained['workdir'], 'eval_val.json')))
  assert evaluation['name'] == 'val' and evaluation['class_names'] == ['cat', 'dog', 'frog']
  assert evaluation['count'] == 9  # 3 classes x round(0.25 * 12)


def test_confusion_numbers_drawn_equal_eval_json(trained):
  evaluation = json.load(open(os.path.join(trained['workdir'], 'eval_val.json')))
  confusion = np.array(evaluation['confusion'])
  for name in ('report/confusion_matrix.png', 'report/dashboard.png'):
    fig = trained['drawn'][name]
    by_label = {ax.get_label(): ax for ax in fig.axes}
    if 'confusion_counts' in by_label:
      ax = by_label['confusion_counts']
      drawn = np.full(confusion.shape, -1)
      for text in ax.texts:
        col, row = text.get_position()
        drawn[int(row), int(col)] = int(text.get_text())
      np.testing.assert_array_equal(drawn, confusion)
      names = [t.get_text() for t in ax.get_xticklabels()]
      assert names == evaluation['class_names']
      assert [t.get_text() for t in ax.get_yticklabels()] == names
    ax = by_label['confusion_normalized']
    drawn = np.zeros(confusion.shape)
    for text in ax.texts:
      col, row = text.get_position()
      drawn[int(row), int(col)] = float(text.get_text())
    expected = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(drawn, expected, atol=0.005)


def test_per_class_csv_equals_sklearn_on_the_run(trained):
  from sklearn import metrics as sklearn_metrics  # pylint: disable=g-import-not-at-top  (a test dependency: never skipped)
  workdir = trained['workdir']
  saved = np.load(os.path.join(workdir, 'eval_val_predictions.npz'))
  names = ['cat', 'dog', 'frog']
  expected = sklearn_metrics.classification_report(
      saved['labels'], saved['probabilities'].argmax(-1), labels=range(3), target_names=names,
      output_dict=True, zero_division=0)
  rows = list(csv.DictReader(open(os.path.join(workdir, 'report', 'per_class.csv'))))
  assert [r['class'] for r in rows] == names + ['accuracy', 'macro avg', 'weighted avg']
  for row in rows:
    if row['class'] == 'accuracy':
      assert float(row['f1']) == pytest.approx(expected['accuracy'], abs=1e-12)
      assert int(row['support']) == len(saved['labels'])
      continue
    want = expected[row['class']]
    for key, theirs in (('precision', 'precision'), ('recall', 'recall'), ('f1', 'f1-score')):
      assert float(row[key]) == pytest.approx(want[theirs], abs=1e-12), (row['class'], key)
    assert int(row['support']) == want['support']


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_per_class_metrics_equal_sklearn(seed):
  """Imbalanced random predictions, one class never predicted, one absent from the data."""
  from sklearn import metrics as sklearn_metrics  # pylint: disable=g-import-not-at-top  (a test dependency: never skipped)
  rng = np.random.default_rng(seed)
  k = 6
  y_true = rng.choice(k - 1, size=200, p=[0.4, 0.3, 0.15, 0.1, 0.05])  # class 5 absent
  y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, k, 200))
  y_pred[y_pred == 3] = 2  # class 3 never predicted
  confusion = np.zeros((k, k), np.int64)
  np.add.at(confusion, (y_true, y_pred), 1)
  names = [f'c{i}' for i in range(k)]
  got = report.per_class_metrics(confusion, names)
  want = sklearn_metrics.classification_report(y_true, y_pred, labels=range(k),
                                               target_names=names, output_dict=True,
                                               zero_division=0)
  for row in got['classes']:
    for key, theirs in (('precision', 'precision'), ('recall', 'recall'), ('f1', 'f1-score')):
      assert row[key] == pytest.approx(want[row['name']][theirs], abs=1e-12)
    assert row['support'] == want[row['name']]['support']
  for avg in ('macro avg', 'weighted avg'):
    for key, theirs in (('precision', 'precision'), ('recall', 'recall'), ('f1', 'f1-score')):
      assert got[avg][key] == pytest.approx(want[avg][theirs], abs=1e-12), (avg, key)
  assert got['accuracy'] == pytest.approx(np.mean(y_true == y_pred), abs=1e-12)


def test_tensorboard_scalars_match_metrics_jsonl(trained):
  workdir = trained['workdir']
  records = history.read(workdir)
  train_scalars = tensorboard.read_scalars(os.path.join(workdir, 'tensorboard', 'train'))
  val_scalars = tensorboard.read_scalars(os.path.join(workdir, 'tensorboard', 'val'))
  assert [s for s, _ in train_scalars['epoch_loss']] == [1, 2]
  np.testing.assert_allclose([v for _, v in train_scalars['epoch_loss']],
                             [r['train_loss'] for r in records], rtol=1e-6)
  np.testing.assert_allclose([v for _, v in val_scalars['epoch_accuracy']],
                             [r['val_accuracy'] for r in records], rtol=1e-6)
  assert 'epoch_lr' in train_scalars
  evaluation = tensorboard.read_scalars(os.path.join(workdir, 'tensorboard', 'eval_val'))
  assert {'accuracy', 'loss', 'macro_f1', 'f1/cat', 'recall/frog'} <= set(evaluation)


def test_tensorboard_resume_hides_the_interrupted_epochs(tmp_path):
  workdir = str(tmp_path)
  first = tensorboard.EpochWriter(workdir)
  for epoch in (1, 2, 3):  # the interrupted run got to epoch 3 ...
    first.write({'epoch': epoch, 'train_loss': 10.0 + epoch})
  first.close()
  # ... but its checkpoint (and metrics.jsonl) kept only epoch 1.
  resumed = tensorboard.EpochWriter(workdir, [{'epoch': 1, 'train_loss': 11.0}])
  for epoch in (2, 3):
    resumed.write({'epoch': epoch, 'train_loss': 20.0 + epoch})
  resumed.close()
  scalars = tensorboard.read_scalars(os.path.join(workdir, 'tensorboard', 'train'))
  assert scalars['epoch_loss'] == [(1, 11.0), (2, 22.0), (3, 23.0)]
  disabled = tensorboard.EpochWriter(str(tmp_path / 'other'), enabled=False)
  disabled.write({'epoch': 1, 'train_loss': 1.0})
  assert not os.path.exists(tmp_path / 'other')


def test_tta_identity_equals_plain_evaluation_and_flip_is_symmetric(trained):
  from cnnlab import inference, tta  # pylint: disable=g-import-not-at-top
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  run = inference.load_run(trained['workdir'])
  _, val = input_pipeline.load_splits(run.config)

  def evaluate(dataset, name):
    return steps.evaluate(run.state, dataset, run.mesh, steps.make_eval_fn(run.pipeline, name),
                          batch_size=8, with_probabilities=True)

  plain, identity = evaluate(val, ''), evaluate(val, 'identity')
  assert identity['confusion'] == plain['confusion']
  assert identity['count'] == plain['count'] and identity['accuracy'] == plain['accuracy']
  assert identity['loss'] == pytest.approx(plain['loss'], rel=1e-6)
  np.testing.assert_allclose(identity['probabilities'], plain['probabilities'], rtol=1e-6)
  # Mirror-symmetric images: the flipped view is the same image, so flip TTA = plain.
  images = val.images.astype(np.int32)
  symmetric = dataclasses.replace(
      val, images=((images + images[:, :, ::-1]) // 2).astype(np.uint8))
  plain, flip = evaluate(symmetric, ''), evaluate(symmetric, 'flip')
  assert flip['confusion'] == plain['confusion']
  np.testing.assert_allclose(flip['probabilities'], plain['probabilities'], rtol=1e-5)
  # On ordinary images the views differ, and flip TTA is the mean of the two
  # views' probabilities, each computed by plain evaluation.
  flip = evaluate(val, 'flip')
  mirrored = dataclasses.replace(val, images=val.images[:, :, ::-1])
  mean = 0.5 * (evaluate(val, '')['probabilities'] + evaluate(mirrored, '')['probabilities'])
  np.testing.assert_allclose(flip['probabilities'], mean, rtol=1e-5, atol=1e-7)
  assert flip['accuracy'] == pytest.approx(np.mean(mean.argmax(-1) == val.labels))
  assert not np.allclose(evaluate(mirrored, '')['probabilities'],
                         evaluate(val, '')['probabilities'], rtol=1e-3)  # the views differ
  from cnnlab.core.errors import UserError  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match='flip'):
    tta.views('flipp')


def test_evaluate_cli_with_tta_writes_its_own_report(trained, tmp_path):
  # A labelled folder of the same classes, evaluated with flip TTA.
  data = make_image_folder(tmp_path / 'holdout', per_class=4, size=16, seed=7)
  result = run_module('cnnlab.evaluate', f'--workdir={trained["workdir"]}',
                      f'--data_dir={data}', '--tta=flip',
                      env={'CNNLAB_CACHE': str(tmp_path / 'cache')})
  assert result.returncode == 0, result.stderr[-3000:]
  name = 'holdout_tta_flip'
  evaluation = json.load(open(os.path.join(trained['workdir'], f'eval_{name}.json')))
  assert evaluation['tta'] == 'flip' and evaluation['count'] == 12
  confusion = np.array(evaluation['confusion'])
  assert confusion.shape == (3, 3) and confusion.sum(1).tolist() == [4, 4, 4]
  assert evaluation['accuracy'] == pytest.approx(np.trace(confusion) / 12)
  out = os.path.join(trained['workdir'], 'report', name)
  for file in FIGURES:
    fmt, _, pixels = _png(os.path.join(out, file))
    assert fmt == 'PNG' and pixels.std() > 10, file
  # The per-class table is the confusion matrix's precision / recall / support.
  rows = {r['class']: r for r in csv.DictReader(open(os.path.join(out, 'per_class.csv')))}
  for k, name_k in enumerate(['cat', 'dog', 'frog']):
    assert int(rows[name_k]['support']) == 4
    assert float(rows[name_k]['recall']) == pytest.approx(confusion[k, k] / 4)
    predicted = confusion[:, k].sum()
    assert float(rows[name_k]['precision']) == pytest.approx(
        confusion[k, k] / predicted if predicted else 0.0)
  assert float(rows['accuracy']['f1']) == pytest.approx(evaluation['accuracy'])
  assert int(rows['accuracy']['support']) == 12
  table = open(os.path.join(out, 'per_class.md')).read()
  assert f'Accuracy **{evaluation["accuracy"]:.4f}** on 12 images' in table
  for c in ('cat', 'dog', 'frog'):
    assert re.search(rf'\| {c}( \(lowest F1\))? \| {float(rows[c]["precision"]):.4f} \| '
                     rf'{float(rows[c]["recall"]):.4f} \|', table), c
  assert f'report in {out}' in result.stdout


def test_compare_runs_figure_and_table(trained, tmp_path):
  # A second "run": the same history, scaled, under another name.
  other = tmp_path / 'other'
  os.makedirs(other)
  shutil.copy(os.path.join(trained['workdir'], 'meta.json'), other)
  for r in history.read(trained['workdir']):
    history.append(str(other), dict(r, val_accuracy=r['val_accuracy'] * 0.5))
  out = str(tmp_path / 'compare.png')
  result = run_module('cnnlab.report', '--workdirs', trained['workdir'], str(other),
                      f'--out={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  fmt, size, pixels = _png(out)
  assert fmt == 'PNG' and size[0] == 1300 and pixels.std() > 10
  rows = list(csv.DictReader(open(str(tmp_path / 'compare.csv'))))
  assert [r['run'] for r in rows] == ['workdir', 'other']  # best val accuracy first
  assert int(rows[0]['params']) > 0 and int(rows[0]['epochs']) == 2
  assert '| workdir |' in result.stdout and os.path.exists(str(tmp_path / 'compare.md'))


def test_confidence_is_never_rounded_up_to_certainty():
  assert [figures.format_confidence(p) for p in (0.87, 0.994, 0.997, 0.9996, 1.0)] == [
      '87%', '99%', '99.7%', '>99.9%', '100%']


# ---- seed 000's per-batch figures (config.log_step_records) ------------------------

def step_lines(n=120, seed=0):
  rng = np.random.default_rng(seed)
  return [{'step': i + 1, 'lr': 1e-3 + 1e-4 * i, 'loss': float(2.3 - 0.01 * i + rng.normal(0, 0.1)),
           'accuracy': float(rng.random())} for i in range(n)]


def test_moving_average_is_seed000s_trailing_mean():
  from cnnlab import step_figures  # pylint: disable=g-import-not-at-top
  values = np.random.default_rng(1).random(120)
  naive = [np.mean(values[i:i + 50]) for i in range(120 - 50 + 1)]
  np.testing.assert_allclose(step_figures.moving_average(values, 50), naive, rtol=1e-12)
  np.testing.assert_allclose(step_figures.moving_average(values[:10], 50), [values[:10].mean()])


def test_step_figures_plot_the_moving_averages_against_lr_and_step():
  from cnnlab import step_figures  # pylint: disable=g-import-not-at-top
  lines = step_lines()
  lr = np.array([r['lr'] for r in lines])
  accuracy = np.array([r['accuracy'] for r in lines])
  fig = step_figures.accuracy_vs_lr_figure(lines)
  x, y = fig.axes[1].lines[0].get_data()  # seed 000: lr[49:] against the 50-batch average
  np.testing.assert_allclose(x, lr[49:])
  np.testing.assert_allclose(y, [accuracy[i:i + 50].mean() for i in range(71)], rtol=1e-12)
  np.testing.assert_allclose(fig.axes[0].lines[0].get_data()[1], lr)  # the lr per step
  fig = step_figures.steps_figure(lines)
  loss = np.array([r['loss'] for r in lines])
  raw, average = fig.axes[0].lines[:2]
  np.testing.assert_allclose(raw.get_data()[1], loss)
  np.testing.assert_allclose(average.get_data()[0], np.arange(20, 121))
  np.testing.assert_allclose(average.get_data()[1], [loss[i:i + 20].mean() for i in range(101)])
  fig = step_figures.compare_steps_figure([('a', lines), ('b', step_lines(seed=2)), ('none', [])])
  assert [l.get_label() for l in fig.axes[0].lines] == ['a', 'b']


def test_step_report_only_with_step_records(tmp_path):
  workdir = str(tmp_path)
  assert report.step_report(workdir) == {}
  history.append_steps(workdir, step_lines())
  written = report.step_report(workdir)
  assert sorted(written) == ['accuracy_vs_lr.png', 'steps.png']
  for path in written.values():
    assert os.path.dirname(path) == os.path.join(workdir, 'report')
    assert os.path.getsize(path) > 10_000
