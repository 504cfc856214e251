"""cnnlab.batches: the device-resident and host batch sources train identically."""
import jax
import numpy as np

from cnnlab import augment
from cnnlab import batches
from cnnlab import input_pipeline
from cnnlab import models
from cnnlab import optimizers
from cnnlab import steps
from cnnlab.core import parallel
from conftest import make_image_folder, tiny_config


def test_device_and_host_sources_give_the_same_steps(tmp_path):
  folder = make_image_folder(tmp_path / 'images', per_class=8)
  config = tiny_config(folder, tmp_path, augment='flip_lr|translate(2)')
  train_ds, _ = input_pipeline.load_splits(config)
  mesh = parallel.create_mesh()
  model = models.from_config(config.model, train_ds.num_classes)
  pipeline = augment.create_pipeline(config.augment)
  tx = optimizers.create_optimizer(config, 2, 4)
  kwargs = dict(pipeline=pipeline, label_smoothing=0.1, steps_per_epoch=2)
  device = batches.create(train_ds, mesh, 8, on_device=True, **kwargs)
  host = batches.create(train_ds, mesh, 8, on_device=False, **kwargs)
  assert isinstance(device, batches.DeviceBatches) and isinstance(host, batches.HostBatches)

  def run(source, precompile=False):
    state = steps.create_train_state(jax.random.key(0), model, train_ds.image_shape, tx,
                                     pipeline.fit(train_ds.images))
    state = parallel.replicate(state, mesh)
    if precompile:  # what benchmarks/airbench_timing.py does before its clock starts
      assert source.precompile(state, 8, jax.random.key(1)) > 0
      assert isinstance(source._step, jax.stages.Compiled)  # pylint: disable=protected-access
    losses = []
    for indices in (np.array([3, 0, 7, 1, 12, 5, 9, 2]), np.array([4, 6, 8, 10, 11, 13, 14, 15])):
      state, metrics = source.step(state, indices, jax.random.key(1))
      losses.append(float(metrics['loss']))
    return jax.device_get(state.params), losses

  device_params, device_losses = run(device)
  host_params, host_losses = run(host)
  assert device_losses == host_losses  # the same rows, ids and augmentation draws
  assert device_losses[0] != device_losses[1]
  for a, b in zip(jax.tree_util.tree_leaves(device_params), jax.tree_util.tree_leaves(host_params)):
    np.testing.assert_array_equal(a, b)
  # Compiled ahead of time, the device source's steps are the same computation.
  precompiled_params, precompiled_losses = run(
      batches.create(train_ds, mesh, 8, on_device=True, **kwargs), precompile=True)
  assert precompiled_losses == device_losses
  for a, b in zip(jax.tree_util.tree_leaves(device_params),
                  jax.tree_util.tree_leaves(precompiled_params)):
    np.testing.assert_array_equal(a, b)


def test_a_different_batch_trains_differently(tmp_path):
  # The indices matter: the check above would pass vacuously if a source ignored them.
  folder = make_image_folder(tmp_path / 'images', per_class=8)
  config = tiny_config(folder, tmp_path)
  train_ds, _ = input_pipeline.load_splits(config)
  mesh = parallel.create_mesh()
  model = models.from_config(config.model, train_ds.num_classes)
  pipeline = augment.create_pipeline(config.augment)
  tx = optimizers.create_optimizer(config, 2, 4)
  source = batches.create(train_ds, mesh, 8, on_device=True, pipeline=pipeline,
                          label_smoothing=0.0, steps_per_epoch=2)
  state = steps.create_train_state(jax.random.key(0), model, train_ds.image_shape, tx,
                                   pipeline.fit(train_ds.images))
  a = source.step(jax.tree_util.tree_map(np.array, state), np.arange(8), jax.random.key(1))[1]
  b = source.step(jax.tree_util.tree_map(np.array, state), np.arange(8, 16), jax.random.key(1))[1]
  assert float(a['loss']) != float(b['loss'])
