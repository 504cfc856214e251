"""Augmentation through the training loop: airbench's alternating flip, fitted statistics.

The ops themselves are tested in the other test_augment_*.py; here the question is whether
cnnlab.train feeds them what they need (example ids, epoch, fitted statistics)
and whether evaluation / prediction apply the statistics that training fitted.
Tiny runs on generated 16x16 JPEGs (conftest.image_folder): seconds each.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnlab import steps

from cnnlab import augment
from cnnlab.core import checkpoints
from cnnlab.core import history
from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab import models
from cnnlab import predict
from cnnlab import train
from cnnlab.core.errors import UserError
from conftest import tiny_config


def _lowbias32_bit(ids):
  """airbench's per-example pre-flip bit (augment/geometric.py: lowbias32 & 1), in numpy."""
  x = np.asarray(ids, np.uint64) & 0xFFFFFFFF
  x ^= x >> 16
  x = (x * 0x7feb352d) & 0xFFFFFFFF
  x ^= x >> 15
  x = (x * 0x846ca68b) & 0xFFFFFFFF
  x ^= x >> 16
  return (x & 1).astype(bool)


def _latest_params(workdir):
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    return ckpts.latest.restore(ckpts.latest_step())['params'], ckpts.latest_step()
  finally:
    ckpts.close()


# ---- airbench's alternating flip ----------------------------------------------------
def test_alternating_flip_epoch_parity_in_the_train_step():
  # What the train step feeds the model (steps.augmented_images, as train_step
  # calls it): over four epochs of shuffled batches, example i is mirrored in
  # epoch e exactly when bit(i) XOR (e odd), airbench's scheme (a fixed random
  # half pre-flipped once, then every image flipped in odd epochs) with the
  # per-example bit augment/geometric.py derives from the id. So an example is flipped
  # in epoch e iff it is not in epoch e + 1, wherever the shuffle puts it and
  # whatever the step key.
  num, batch_size = 24, 6
  steps_per_epoch = num // batch_size
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (num, 6, 6, 1), dtype=np.uint8)
  images[:, :, 0] = 255  # asymmetric: a flip is never the identity
  images[:, :, -1] = 0
  pipeline = augment.create_pipeline('flip_lr(alternate=True)')
  model = models.create_model('conv1', 2)
  state = steps.create_train_state(jax.random.key(0), model, (6, 6, 1), optax.sgd(0.1))
  fn = jax.jit(functools.partial(steps.augmented_images, pipeline=pipeline,
                                 steps_per_epoch=steps_per_epoch))
  x = images / np.float32(255)
  flipped = np.zeros((4, num), bool)
  seen = np.zeros((4, num), int)
  for epoch in range(4):
    order = input_pipeline.epoch_permutation(7, epoch, num)
    for position in range(steps_per_epoch):
      step = epoch * steps_per_epoch + position
      ids = order[position * batch_size:(position + 1) * batch_size].astype(np.int32)
      out = np.asarray(fn(state.replace(step=jnp.asarray(step, jnp.int32)),
                          {'image': images[ids], 'id': ids}, jax.random.key(100 + step)))
      for row, i in enumerate(ids):
        mirrored = np.allclose(out[row], x[i][:, ::-1], rtol=1e-6)
        assert mirrored or np.allclose(out[row], x[i], rtol=1e-6)
        flipped[epoch, i] = mirrored
        seen[epoch, i] += 1
  assert np.all(seen == 1)  # every example once per epoch
  for epoch in range(3):
    np.testing.assert_array_equal(flipped[epoch], ~flipped[epoch + 1])
  expected = _lowbias32_bit(np.arange(num))
  np.testing.assert_array_equal(flipped[0], expected)
  np.testing.assert_array_equal(flipped[1], ~expected)
  np.testing.assert_array_equal(np.asarray(augment._hash_bit(np.arange(num))), expected)
  assert 0.25 < flipped[0].mean() < 0.75  # a random half, not all or none
  # Without the epoch (steps_per_epoch) or the ids the op cannot decide: an error.
  for kwargs, batch in [({}, {'image': images[:2], 'id': np.arange(2, dtype=np.int32)}),
                        ({'steps_per_epoch': 4}, {'image': images[:2]})]:
    with pytest.raises(UserError, match='example ids and the epoch'):
      steps.augmented_images(state, batch, jax.random.key(0), pipeline=pipeline, **kwargs)


@pytest.mark.parametrize('on_device', [True, False])
def test_alternating_flip_trains_and_resumes(image_folder, tmp_path, on_device):
  # Through train.train_and_evaluate: the gather step (on_device) and the
  # host-fed step both hand the ids and the epoch to the pipeline; a run
  # interrupted mid-epoch and resumed equals the uninterrupted one.
  overrides = {'augment': 'flip_lr(alternate=True)', 'data.on_device': on_device,
               'num_epochs': 3, 'batch_size': 9, 'checkpoint_every_steps': 2}
  full = str(tmp_path / 'full')
  final = train.train_and_evaluate(tiny_config(image_folder, tmp_path, **overrides), full)
  records = history.read(full)
  assert [r['step'] for r in records] == [3, 6, 9]  # 27 train images // 9
  assert all(np.isfinite(r['train_loss']) for r in records)
  assert records[-1]['train_loss'] < records[0]['train_loss']
  assert 'val_accuracy' in final
  part = str(tmp_path / 'part')
  train.train_and_evaluate(
      tiny_config(image_folder, tmp_path, num_train_steps=4, **overrides), part)
  assert checkpoints.Checkpoints(part).latest_step() == 4  # crashed in the 2nd epoch
  train.train_and_evaluate(tiny_config(image_folder, tmp_path, **overrides), part)
  a, step_a = _latest_params(full)
  b, step_b = _latest_params(part)
  assert step_a == step_b == 9
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def test_alternating_flip_same_on_device_and_host_fed(image_folder, tmp_path):
  # The host-fed batches carry each row's index in the training split, the
  # same ids the on-device gather uses: both paths flip the same images and
  # so train to the same weights (batch positions as ids would not).
  params = []
  for on_device in (True, False):
    workdir = str(tmp_path / f'run_{on_device}')
    train.train_and_evaluate(tiny_config(
        image_folder, tmp_path, augment='flip_lr(alternate=True)', num_epochs=2, batch_size=9,
        **{'data.on_device': on_device}), workdir)
    params.append(_latest_params(workdir)[0])
  jax.tree_util.tree_map(functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
                         *params)


# ---- fitted statistics: train -> checkpoint -> evaluate / predict --------------------
def _direct_probabilities(state, pipeline, stats, images):
  """The restored model applied by hand to images normalized with `stats`."""
  variables = {'params': state.params}
  if state.batch_stats:
    variables['batch_stats'] = state.batch_stats
  logits = state.apply_fn(variables, pipeline.eval(images, stats), train=False)
  return np.asarray(jax.nn.softmax(logits)), np.asarray(logits)


@pytest.mark.parametrize('spec', ['flip_lr|featurewise_center|featurewise_std', 'zca'])
def test_fitted_statistics_reach_evaluation_and_prediction(image_folder, tmp_path, monkeypatch,
                                                           spec):
  fitted = []
  original_fit = augment.Pipeline.fit

  def recording_fit(self, images):
    stats = original_fit(self, images)
    fitted.append(jax.tree_util.tree_map(np.copy, stats))
    return stats

  monkeypatch.setattr(augment.Pipeline, 'fit', recording_fit)
  config = tiny_config(image_folder, tmp_path, augment=spec, num_epochs=2, batch_size=9)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  assert len(fitted) == 1  # fitted once, at train time
  at_train = fitted[0]

  train_ds, val_ds = input_pipeline.load_splits(config)
  x = train_ds.images.astype(np.float64) / 255.0
  if spec == 'zca':
    assert set(at_train) == {'zca'} and at_train['zca']['matrix'].shape == (768, 768)
    np.testing.assert_allclose(at_train['zca']['mean'].ravel(), x.mean(axis=(0, 1, 2)),
                               rtol=1e-5)
  else:
    # Fitted on the training split (27 images), not on val or the whole folder.
    np.testing.assert_allclose(at_train['featurewise_center']['mean'].ravel(),
                               x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(at_train['featurewise_std']['std'].ravel(),
                               x.std(axis=(0, 1, 2)), rtol=1e-4)

  run = inference.load_run(workdir)
  restored = jax.tree_util.tree_map(np.asarray, run.state.input_stats)
  assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(at_train)
  jax.tree_util.tree_map(np.testing.assert_array_equal, restored, at_train)

  result = inference.evaluate(run, val_ds, batch_size=4)  # padded last batch too
  probs, logits = _direct_probabilities(run.state, run.pipeline, at_train, val_ds.images)
  np.testing.assert_allclose(result['probabilities'], probs, rtol=1e-4, atol=1e-6)
  assert result['accuracy'] == pytest.approx(np.mean(logits.argmax(-1) == val_ds.labels))
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, val_ds.labels).mean()
  assert result['loss'] == pytest.approx(float(loss), rel=1e-4)
  # The best checkpoint's val accuracy, recorded during training, is reproduced.
  best_accuracy = max(r['val_accuracy'] for r in history.read(workdir))
  assert result['accuracy'] == pytest.approx(best_accuracy)
  # Prediction applies the same statistics.
  predicted = predict.predict_probabilities(run, val_ds.images, '', 5)
  np.testing.assert_allclose(predicted, probs, rtol=1e-4, atol=1e-6)
  # ...and they matter: with the restore template's zero statistics it differs.
  zeros = run.pipeline.init_stats(val_ds.image_shape)
  wrong, _ = _direct_probabilities(run.state, run.pipeline, zeros, val_ds.images)
  assert np.abs(wrong - probs).max() > 1e-3
