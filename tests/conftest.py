"""Shared fixtures: tiny generated datasets and configs that train in seconds."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_image_folder(root, classes=('cat', 'dog', 'frog'), per_class=12, size=16,
                      mode='RGB', seed=0, ext='jpg'):
  """Writes real JPEG/PNG files, each class a different mean colour (learnable)."""
  rng = np.random.default_rng(seed)
  for c, name in enumerate(classes):
    os.makedirs(os.path.join(root, name), exist_ok=True)
    for i in range(per_class):
      base = np.zeros((size, size, 3)) + 60 + 70 * np.eye(3)[c % 3] * (1 + c // 3)
      pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
      img = Image.fromarray(pixels).convert(mode)
      img.save(os.path.join(root, name, f'{i:04d}.{ext}'))
  return str(root)


def tiny_config(data_dir, tmp_path, **overrides):
  """configs/vgg.py shrunk to a few steps on a generated folder."""
  from configs import vgg  # pylint: disable=g-import-not-at-top
  config = vgg.get_config()
  config.data.dir = str(data_dir)
  config.data.cache_dir = str(tmp_path / 'cache')
  config.data.val_fraction = 0.25
  config.model.name = 'conv1'
  config.batch_size = 8
  config.eval_batch_size = 8
  config.num_epochs = 2
  config.log_every_steps = 1
  config.report = False  # the report has its own tests
  return with_overrides(config, overrides)


def with_overrides(config, overrides):
  """config with {'a.b': value} fields set (as --config.a.b=value would)."""
  for key, value in overrides.items():
    target = config
    *path, leaf = key.split('.')
    for p in path:
      target = target[p]
    target[leaf] = value
  return config


def run_module(module, *args, env=None, timeout=240):
  """Runs `python -m module args` from the repo root; returns CompletedProcess."""
  full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO, env=full_env,
                        capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def image_folder(tmp_path):
  return make_image_folder(tmp_path / 'images')


ARRAY_LABELS = (1, 2, 3, 4, 5)  # seed 003's labels: the model sees 0..4


def label_images(labels, rng):
  """8x8 gray images whose brightness says the label 1..5 (learnable in a few steps)."""
  base = (np.asarray(labels, np.float64) - 1) * 55 + 10
  noise = rng.normal(0, 6, (len(labels), 8, 8))
  return np.clip(base[:, None, None] + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope='session')
def arrays_run(tmp_path_factory):
  """A run trained on an arrays file (features/target, labels 1..5), shared by the
  predict and evaluate tests; plus unlabelled test images with Kaggle-style ids."""
  from cnnlab import inference  # pylint: disable=g-import-not-at-top
  from cnnlab import train  # pylint: disable=g-import-not-at-top
  tmp = tmp_path_factory.mktemp('arrays_run')
  rng = np.random.default_rng(0)
  labels = np.repeat(ARRAY_LABELS, 16)
  np.savez(tmp / 'train.npz', features=label_images(labels, rng), target=labels)
  config = tiny_config(tmp / 'train.npz', tmp, **{
      'data.name': 'arrays', 'num_epochs': 6, 'optimizer.lr': 0.02, 'report': False})
  workdir = str(tmp / 'workdir')
  train.train_and_evaluate(config, workdir)
  # config.report=False: no evaluation of the best checkpoint, no figures.
  assert not os.path.exists(os.path.join(workdir, 'report'))
  assert not os.path.exists(os.path.join(workdir, 'eval_val.json'))
  # Unlabelled test images with Kaggle-style ids, in a shuffled order.
  test_labels = np.array(ARRAY_LABELS * 4)[rng.permutation(20)]
  ids = np.arange(1000, 1020)
  np.savez(tmp / 'test.npz', images=label_images(test_labels, rng), id=ids)
  return dict(workdir=workdir, tmp=tmp, config=config, test_labels=test_labels, ids=ids,
              loaded=inference.load_run(workdir))


# ---- the augmentation tests (test_augment_*.py) ---------------------------------
def random_uint8_images(shape=(2, 8, 8, 3), seed=0):
  """Random uint8 images of `shape`, the same for the same seed."""
  return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


def augment_train(spec, images, seed=0, stats=None):
  """Pipeline.train of `spec` on `images` under jax.random.key(seed), as numpy."""
  import jax  # pylint: disable=g-import-not-at-top

  from cnnlab import augment  # pylint: disable=g-import-not-at-top
  pipeline = augment.create_pipeline(spec)
  return np.asarray(pipeline.train(jax.random.key(seed), images, stats or {}))


def augment_uniforms(pipeline, image_shape, num_keys=100, batch=128):
  """The [num_keys * batch, n] uniforms Pipeline.train draws for batches under many keys."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  n = pipeline.uniforms_for(image_shape)
  keys = jax.random.split(jax.random.key(0), num_keys)
  u = jax.vmap(lambda k: jax.random.uniform(k, (batch, n), jnp.float32))(keys)
  return u.reshape(-1, n)


def augment_train_and_uniforms(pipeline, images, rng):
  """Pipeline.train's output and the [batch, n] uniforms it drew from `rng`."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  out = np.asarray(pipeline.train(rng, images, {}))
  shape = (len(images), pipeline.uniforms_for(images.shape[1:]))
  return out, jax.random.uniform(rng, shape, jnp.float32)
