"""The train loop end to end on generated JPEGs: learning, resume, NaN, early stop."""
import json
import os
import re

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from cnnlab import schedules

from cnnlab.core import workdir as workdir_lib


from cnnlab.core import checkpoints
from cnnlab.core import history
from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab import train
from conftest import tiny_config


def params_of(workdir, best=False):
  run = inference.load_run(workdir) if best else None
  if run is not None:
    return run.state.params
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    return ckpts.latest.restore(ckpts.latest_step())['params'], ckpts.latest_step()
  finally:
    ckpts.close()


def test_end_to_end_learns_and_writes_workdir(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, num_epochs=6, batch_size=9)
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  records = history.read(workdir)
  assert [r['epoch'] for r in records] == [1, 2, 3, 4, 5, 6]
  # 27 train images // 9 = 3 steps per epoch.
  assert [r['step'] for r in records] == [3, 6, 9, 12, 15, 18]
  assert records[-1]['train_loss'] < records[0]['train_loss']
  assert final['val_accuracy'] == records[-1]['val_accuracy'] > 0.5
  for key in ('train_accuracy', 'val_loss', 'lr', 'examples_per_sec', 'epoch_seconds'):
    assert key in records[-1]
  meta = workdir_lib.read_meta(workdir)
  assert meta['class_names'] == ['cat', 'dog', 'frog'] and meta['image_shape'] == [16, 16, 3]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['15', '18']
  best_step = int(os.listdir(os.path.join(workdir, 'best'))[0])
  best_acc = max(r['val_accuracy'] for r in records)
  assert best_step == min(r['step'] for r in records if r['val_accuracy'] == best_acc)
  # The best checkpoint evaluates to the accuracy recorded when it was saved.
  run = inference.load_run(workdir)
  _, val = input_pipeline.load_splits(config)
  assert inference.evaluate(run, val)['accuracy'] == pytest.approx(best_acc)


def state_of(workdir, step):
  """Every leaf of the periodic checkpoint at `step`, as orbax saved it."""
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    return ckpts.latest.restore(step, args=ocp.args.StandardRestore())
  finally:
    ckpts.close()


TIMING_KEYS = ('examples_per_sec', 'epoch_seconds', 'elapsed_seconds', 'train_seconds_total')


@pytest.mark.parametrize('on_device', [True, False])
def test_resumed_run_equals_uninterrupted(image_folder, tmp_path, on_device):
  # Dropout and BatchNorm (fashion_deep), random augmentation with a fitted
  # normalization, and Adam: every kind of state a run carries.
  overrides = dict(model__name='fashion_deep', data__on_device=on_device, num_epochs=2,
                   batch_size=6, checkpoint_every_steps=2,
                   augment='flip_lr|translate(0.1)|brightness(0.2)|featurewise_center')
  overrides = {k.replace('__', '.'): v for k, v in overrides.items()}
  full = str(tmp_path / 'full')
  train.train_and_evaluate(tiny_config(image_folder, tmp_path, **overrides), full)
  # "Crash" after 5 steps (mid-epoch: 4 steps per epoch), then rerun the full config.
  part = str(tmp_path / 'part')
  train.train_and_evaluate(
      tiny_config(image_folder, tmp_path, num_train_steps=5, **overrides), part)
  assert checkpoints.Checkpoints(part).latest_step() == 5
  train.train_and_evaluate(tiny_config(image_folder, tmp_path, **overrides), part)
  a, b = state_of(full, 8), state_of(part, 8)
  assert sorted(a) == sorted(b) and {'params', 'batch_stats', 'opt_state', 'input_stats'} <= set(a)
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)  # bit-identical on CPU
  assert jax.tree_util.tree_leaves(a['input_stats'])  # the fitted mean is compared too
  records = {r['step']: r for r in history.read(full)}
  resumed = {r['step']: r for r in history.read(part)}
  assert sorted(records) == [4, 8] and sorted(resumed) == [4, 5, 8]
  for step in (4, 8):
    # Every value but the clocks, the resumed epoch's train_loss included
    # (its steps before the crash come back from history.load_partial).
    assert set(records[step]) == set(resumed[step])
    for key, value in records[step].items():
      if key not in TIMING_KEYS:
        assert resumed[step][key] == value, (step, key)


def test_nan_loss_stops_with_message(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, num_epochs=3, batch_size=9)
  config.optimizer.name, config.optimizer.lr = 'sgd', 1e12
  with pytest.raises(train.TrainingDiverged) as e:
    train.train_and_evaluate(config, str(tmp_path / 'nan'))
  message = str(e.value)
  assert 'loss became nan' in message and 'between steps' in message
  assert 'grad_clip_norm' in message

  # Checkpoints every step but the loss logged only every 100: every save is
  # still checked first, so the checkpoint the message names holds the last
  # finite state (lr jumps from 0.01 to 1e12 after epoch 1 = step 3).
  config = tiny_config(image_folder, tmp_path, num_epochs=4, batch_size=9,
                       checkpoint_every_steps=1, log_every_steps=100)
  config.optimizer.name, config.optimizer.lr = 'sgd', 0.01
  config.schedule.name, config.schedule.boundaries_epochs = 'piecewise', '1'
  config.schedule.decay_rate = 1e14
  workdir = str(tmp_path / 'nan_later')
  with pytest.raises(train.TrainingDiverged) as e:
    train.train_and_evaluate(config, workdir)
  message = str(e.value)
  found = re.search(r'between steps (\d+) and (\d+)\. The last good checkpoint is step '
                    r'(\d+) in (\S+)/checkpoints', message)
  assert found, message
  first, last, good = (int(g) for g in found.groups()[:3])
  assert found.group(4) == workdir
  assert good >= 3 and first == last == good + 1, message  # checked before every save
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    assert good in ckpts.latest.all_steps() and ckpts.latest_step() == good
    restored = ckpts.latest.restore(good, args=ocp.args.StandardRestore())
  finally:
    ckpts.close()
  assert int(restored['step']) == good
  for leaf in jax.tree_util.tree_leaves((restored['params'], restored['opt_state'])):
    assert np.all(np.isfinite(leaf))


def test_early_stopping(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, num_epochs=30, batch_size=9,
                       early_stopping_patience=2)
  config.optimizer.lr = 0.0  # nothing improves after the first evaluation
  train.train_and_evaluate(config, str(tmp_path / 'es'))
  assert len(history.read(str(tmp_path / 'es'))) == 3


def test_eval_is_exact_with_padded_batches(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, num_epochs=1)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  run = inference.load_run(workdir)
  _, val = input_pipeline.load_splits(config)  # 9 images
  whole = inference.evaluate(run, val, batch_size=16)
  padded = inference.evaluate(run, val, batch_size=2)  # 5 batches, last one padded
  assert whole['count'] == padded['count'] == 9
  assert whole['confusion'] == padded['confusion']
  assert np.sum(whole['confusion']) == 9
  assert padded['accuracy'] == pytest.approx(whole['accuracy'])
  assert padded['loss'] == pytest.approx(whole['loss'], rel=1e-5)
  probabilities = whole['probabilities']
  assert probabilities.shape == (9, 3)
  predicted = probabilities.argmax(-1)
  assert whole['accuracy'] == pytest.approx(np.mean(predicted == val.labels))


def test_steps_for_drops_partial_batch(tmp_path):
  config = tiny_config('', tmp_path)
  config.batch_size, config.num_epochs = 10, 3
  assert schedules.steps_for(config, 45) == (4, 12)
  config.num_train_steps = 7
  assert schedules.steps_for(config, 45) == (4, 7)
  # Fractional epochs round the step count up: airbench's 9.9 epochs of
  # 50,000 // 1024 = 48 steps is ceil(475.2) = 476 steps.
  config.num_train_steps, config.batch_size, config.num_epochs = -1, 1024, 9.9
  assert schedules.steps_for(config, 50000) == (48, 476)
  config.num_epochs = 2.0
  assert schedules.steps_for(config, 50000) == (48, 96)


# ---- data protocols: a test part, a separate validation source ---------------------

def test_test_part_is_evaluated_once_at_the_end_on_the_best_checkpoint(tmp_path, monkeypatch):
  from cnnlab import steps  # pylint: disable=g-import-not-at-top
  from conftest import make_image_folder, run_module  # pylint: disable=g-import-not-at-top
  root = make_image_folder(tmp_path / 'images', per_class=20)
  config = tiny_config(root, tmp_path, **{'data.val_fraction': 0.2, 'data.test_fraction': 0.2,
                                          'num_epochs': 3})
  splits = input_pipeline.load_all_splits(config)
  ids = {name: set(getattr(splits, name).ids.tolist()) for name in ('train', 'val', 'test')}
  assert [len(ids[n]) for n in ('train', 'val', 'test')] == [36, 12, 12]
  assert not ids['test'] & (ids['train'] | ids['val']) and not ids['train'] & ids['val']
  assert np.bincount(splits.test.labels).tolist() == [4, 4, 4]  # stratified
  # A spy on every evaluation the run makes (it calls the real one).
  calls, real_evaluate = [], steps.evaluate

  def spy(state, dataset, *args, **kwargs):
    calls.append((set(np.asarray(dataset.ids).tolist()), int(state.step)))
    return real_evaluate(state, dataset, *args, **kwargs)

  monkeypatch.setattr(steps, 'evaluate', spy)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  on_test = [i for i, (seen, _) in enumerate(calls) if seen & ids['test']]
  assert on_test == [len(calls) - 1]  # once, after everything else
  assert calls[-1][0] == ids['test']
  assert all(seen == ids['val'] for seen, _ in calls[:-1]) and len(calls) == 4  # val per epoch
  records = history.read(workdir)
  assert not [k for r in records for k in r if 'test' in k]  # nothing of it in the history
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    best = ckpts.best_step()
  finally:
    ckpts.close()
  assert calls[-1][1] == best  # the chosen checkpoint, restored
  with open(os.path.join(workdir, 'eval_test.json')) as f:
    evaluation = json.load(f)
  assert evaluation['count'] == 12 and evaluation['step'] == best
  assert evaluation['test_source'] == 'data.test_fraction=0.2 of the training data'
  assert evaluation['split'] == 'test' and np.sum(evaluation['confusion']) == 12
  assert workdir_lib.read_meta(workdir)['data']['num_test'] == 12
  # A separate `python -m cnnlab.evaluate` of those 12 images gives the same numbers.
  test_file = tmp_path / 'test_part.npz'
  np.savez(test_file, images=splits.test.images,
           labels=np.array(splits.test.class_names)[splits.test.labels])
  result = run_module('cnnlab.evaluate', f'--workdir={workdir}', f'--data_dir={test_file}',
                      '--name=check', '--report=False')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, 'eval_check.json')) as f:
    check = json.load(f)
  assert check['step'] == best and check['count'] == evaluation['count']
  assert check['accuracy'] == evaluation['accuracy']
  assert check['confusion'] == evaluation['confusion']
  assert check['loss'] == pytest.approx(evaluation['loss'], rel=1e-5)


def test_val_dir_validates_on_another_source_and_says_what_that_means(tmp_path, caplog):
  from conftest import make_image_folder  # pylint: disable=g-import-not-at-top
  root = make_image_folder(tmp_path / 'images', per_class=8)
  # Two of the three classes, in another folder (e.g. the source's test split).
  val_dir = make_image_folder(tmp_path / 'held', classes=('cat', 'frog'), per_class=5, seed=4)
  config = tiny_config(root, tmp_path, **{'data.val_dir': val_dir, 'report': True})
  workdir = str(tmp_path / 'run')
  with caplog.at_level('INFO'):
    train.train_and_evaluate(config, workdir)
  data = workdir_lib.read_meta(workdir)['data']
  assert (data['num_train'], data['num_val'], data['val_dir']) == (24, 10, val_dir)  # val_fraction ignored
  warnings = [r.getMessage() for r in caplog.records if 'if this is a test split' in r.getMessage()]
  assert len(warnings) == 2  # when training starts, and with the report at the end
  assert 'data.val_fraction is ignored' in warnings[0]
  with open(os.path.join(workdir, 'report', 'per_class.md')) as f:
    assert 'if this is a test split, the accuracy reported on it is optimistic' in f.read()
  with open(os.path.join(workdir, 'eval_val.json')) as f:
    evaluation = json.load(f)
  assert evaluation['count'] == 10 and 'if this is a test split' in evaluation['note']
  # The val labels are the training classes' indices: cat 0, frog 2.
  assert np.array(evaluation['confusion']).sum(axis=1).tolist() == [5, 0, 5]
  assert all(r['val_accuracy'] is not None for r in history.read(workdir))


# ---- per-step records ----------------------------------------------------------------

# An lr that changes every step and does not depend on the run's length (the
# resume test "crashes" a run by shortening it).
STEP_OVERRIDES = {'log_step_records': True, 'num_epochs': 2, 'batch_size': 6,
                  'checkpoint_every_steps': 2, 'schedule.name': 'exponential',
                  'schedule.decay_rate': 0.3, 'schedule.decay_epochs': 1.0,
                  'optimizer.name': 'adam'}


def test_step_records_one_line_per_step_with_the_scheduled_lr(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, report=True, **STEP_OVERRIDES)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  lines = history.read_steps(workdir)
  spe, total = schedules.steps_for(config, 27)  # 36 images, 9 val
  assert (spe, total) == (4, 8)
  assert [r['step'] for r in lines] == list(range(1, total + 1))
  assert all(set(r) == {'step', 'lr', 'loss', 'accuracy'} for r in lines)
  schedule = schedules.create_schedule(config, spe, total)
  expected = [float(schedule(r['step'] - 1)) for r in lines]  # the lr step s used
  np.testing.assert_allclose([r['lr'] for r in lines], expected, rtol=1e-6)
  assert len(set(expected)) == total  # a new lr every step
  for record in history.read(workdir):  # the epoch records are these lines' means
    epoch = lines[record['step'] - spe:record['step']]
    assert record['train_loss'] == pytest.approx(np.mean([r['loss'] for r in epoch]), rel=1e-12)
    assert record['lr'] == pytest.approx(epoch[-1]['lr'], rel=1e-6)
  for name in ('steps.png', 'accuracy_vs_lr.png'):
    assert os.path.getsize(os.path.join(workdir, 'report', name)) > 10_000


def test_step_records_of_a_resumed_run_equal_the_uninterrupted_runs(image_folder, tmp_path):
  from cnnlab import report  # pylint: disable=g-import-not-at-top
  full = str(tmp_path / 'full')
  train.train_and_evaluate(tiny_config(image_folder, tmp_path, **STEP_OVERRIDES), full)
  part = str(tmp_path / 'part')
  train.train_and_evaluate(
      tiny_config(image_folder, tmp_path, num_train_steps=5, **STEP_OVERRIDES), part)
  assert [r['step'] for r in history.read_steps(part)] == [1, 2, 3, 4, 5]
  # A crash after writing steps past the last checkpoint (5) leaves lines that the resume cuts.
  history.append_steps(part, [{'step': 6, 'lr': 9.0, 'loss': 9.0, 'accuracy': 0.0},
                              {'step': 7, 'lr': 9.0, 'loss': 9.0, 'accuracy': 0.0}])
  train.train_and_evaluate(tiny_config(image_folder, tmp_path, **STEP_OVERRIDES), part)
  assert history.read_steps(part) == history.read_steps(full)
  assert len(history.read_steps(full)) == 8
  # Seed 000's optimizer comparison: both runs' per-batch moving averages on one figure.
  written = report.write_comparison([full, part], str(tmp_path / 'compare.png'))
  assert os.path.getsize(written['steps_png']) > 10_000
  assert written['steps_png'] == str(tmp_path / 'compare_steps.png')
