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
  meta = workdir_lib.read_meta(workdir)
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
  for key in ('train_accuracy', 'val_loss', 'lr', 'images_per_sec', 'epoch_seconds'):
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


TIMING_KEYS = ('images_per_sec', 'epoch_seconds', 'elapsed_seconds', 'train_seconds_total')


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
