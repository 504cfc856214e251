"""Tests of the Pipeline (cnnlab/augment/pipeline.py) as the train step runs it.

Scaling only for an empty spec, identity at zero magnitude, jit == eager, the
same key giving the same draws (and not depending on the device count), the
output's dtype and range, and the affine ops fused into one stage.
"""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab import augment
from conftest import augment_train as _train
from conftest import random_uint8_images as _images


SEED_003 = 'flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)'


# ---- identities ------------------------------------------------------------------
def test_empty_spec_is_scaling_only():
  images = _images()
  pipeline = augment.create_pipeline('')
  expected = images.astype(np.float32) / 255.0
  trained = pipeline.train(jax.random.key(0), images, {})
  np.testing.assert_array_equal(trained, pipeline.eval(images, {}))
  np.testing.assert_allclose(trained, expected, rtol=1e-6)  # XLA may multiply by 1/255
  assert pipeline.fit(images) == {} and pipeline.init_stats((8, 8, 3)) == {}


@pytest.mark.parametrize('spec', [
    'translate(0)', 'zoom(0)', 'rotate(0)', 'elastic(alpha=0, sigma=3)',
    'shear(0, fill_mode="constant")|pad_crop(0)|cutout(0)|brightness(0)|contrast(0)|'
    'channel_shift(0)'])
def test_zero_magnitude_is_identity(spec):
  images = _images((2, 7, 7, 3))
  np.testing.assert_allclose(_train(spec, images), images / 255.0, atol=1e-6)


# ---- the random pipeline ---------------------------------------------------------
def test_jit_equals_eager():
  # Eager dispatch compiles every primitive on its own: a short spec, small images.
  images = _images((2, 10, 10, 1), seed=8)
  pipeline = augment.create_pipeline('flip_lr|translate(0.1)|rotate(8)|elastic(alpha=8, sigma=2)')
  eager = pipeline.train(jax.random.key(1), images, {})
  jitted = jax.jit(pipeline.train)(jax.random.key(1), images, {})
  np.testing.assert_allclose(eager, jitted, atol=1e-5)


def test_same_key_same_output():
  images = _images((3, 28, 28, 1), seed=8)
  train = jax.jit(augment.create_pipeline(SEED_003 + '|cutout(6)|brightness(0.2)').train)
  first = np.asarray(train(jax.random.key(1), images, {}))
  np.testing.assert_array_equal(first, train(jax.random.key(1), images, {}))
  other = np.asarray(train(jax.random.key(2), images, {}))
  assert np.abs(other - first).max() > 0.1
  # Examples of one batch get different draws.
  out = np.asarray(train(jax.random.key(1), np.repeat(images[:1], 3, axis=0), {}))
  assert np.abs(out[0] - out[1]).max() > 0.1


@pytest.mark.parametrize('shape', [(2, 28, 28, 1), (2, 32, 32, 3)])
def test_dtype_range_and_shape(shape):
  images = _images(shape, seed=9)
  spec = SEED_003 + '|flip_ud|pad_crop(4)|cutout(8)|contrast(0.3)|channel_shift(20)'
  out = jax.jit(augment.create_pipeline(spec).train)(jax.random.key(0), images, {})
  assert out.shape == shape and out.dtype == jnp.float32
  assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def _draws_on_all_devices():
  """Augmented draws of a batch sharded over every device of this process."""
  from jax.sharding import Mesh, NamedSharding, PartitionSpec  # pylint: disable=g-import-not-at-top
  images = np.random.default_rng(0).integers(0, 256, (8, 12, 12, 3), dtype=np.uint8)
  pipeline = augment.create_pipeline(
      'flip_lr|translate(0.1)|rotate(8)|elastic(alpha=8, sigma=2)|cutout(4)|featurewise_center')
  mesh = Mesh(np.array(jax.devices()), ('data',))
  x = jax.device_put(images, NamedSharding(mesh, PartitionSpec('data')))
  return np.asarray(jax.jit(pipeline.train)(jax.random.key(3), x, pipeline.fit(images)))


_CHILD = """
import json, jax
from test_augment_pipeline import _draws_on_all_devices
print(json.dumps({'devices': jax.device_count(), 'out': _draws_on_all_devices().tolist()}))
"""


def test_one_device_equals_four_fake_devices():
  # The draws must not depend on how the batch is split over devices: this
  # process against a child with 4 fake CPU devices.
  tests_dir = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(tests_dir), tests_dir]),
             JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=4')
  run = subprocess.run([sys.executable, '-c', _CHILD], cwd=tests_dir, env=env,
                       capture_output=True, text=True, timeout=120)
  assert run.returncode == 0, run.stderr[-2000:]
  four = json.loads(run.stdout.strip().splitlines()[-1])
  assert four['devices'] == 4
  np.testing.assert_allclose(_draws_on_all_devices(), four['out'], atol=1e-5)


def test_affine_ops_fuse_into_one_stage():
  pipeline = augment.create_pipeline(SEED_003)
  kinds = [type(s).__name__ for s in pipeline.stages]
  assert kinds == ['FlipLR', '_AffineStage', 'Elastic']
  assert [op.name for op in pipeline.stages[1].ops] == ['translate', 'zoom', 'rotate', 'shear']
