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


@pytest.fixture
def no_local_datasets(tmp_path, monkeypatch):
  """Hides the machine's own dataset files (~/.keras, /usr/share/datasets) from the test."""
  from cnnlab import official_datasets  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras_home'))
  monkeypatch.setattr(official_datasets, 'SYSTEM_DATASETS_DIR', str(tmp_path / 'usr_share'))


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


# ---- the official dataset formats, written byte for byte (cnnlab.dataset_files reads them) ----

def write_idx(path, array):
  """An idx-ubyte file: magic 0, 0, 0x08 (uint8), ndim; big-endian uint32 sizes; the bytes.

  gzipped when `path` ends in .gz, as the official downloads are.
  """
  import gzip  # pylint: disable=g-import-not-at-top
  import struct  # pylint: disable=g-import-not-at-top
  array = np.asarray(array, np.uint8)
  raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
  raw += array.tobytes()
  with (gzip.open if str(path).endswith('.gz') else open)(path, 'wb') as f:
    f.write(raw)
  return str(path)


def write_idx_folder(folder, train, test, gz=True):
  """The four official files of an MNIST-style dataset: train / t10k images and labels.

  train, test: (images uint8 [N, H, W], labels [N]).
  """
  os.makedirs(folder, exist_ok=True)
  ext = '.gz' if gz else ''
  for prefix, (images, labels) in (('train', train), ('t10k', test)):
    write_idx(os.path.join(folder, f'{prefix}-images-idx3-ubyte{ext}'), images)
    write_idx(os.path.join(folder, f'{prefix}-labels-idx1-ubyte{ext}'), labels)
  return str(folder)


def random_idx_split(n, seed, classes=10, size=28):
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, (n, size, size), dtype=np.uint8),
          np.arange(n, dtype=np.uint8) % classes)


def write_cifar_pickle(path, entries):
  """A CIFAR batch as its authors wrote it: a pickled dict with byte-string keys."""
  import pickle  # pylint: disable=g-import-not-at-top
  with open(path, 'wb') as f:
    pickle.dump({k.encode() if isinstance(k, str) else k: v for k, v in entries.items()}, f,
                protocol=2)


def cifar_rows(images):
  """uint8 [N, 32, 32, 3] -> CIFAR's rows of 3,072: all red, then green, then blue."""
  return np.ascontiguousarray(np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(-1, 3072))


def write_cifar10_folder(root, train_images, train_labels, test_images, test_labels,
                         names=None):
  """cifar-10-batches-py/ with data_batch_1..5 (the training images dealt out in order),
  test_batch and batches.meta."""
  folder = os.path.join(root, 'cifar-10-batches-py')
  os.makedirs(folder, exist_ok=True)
  names = names or [f'class{k}' for k in range(10)]
  write_cifar_pickle(os.path.join(folder, 'batches.meta'),
                     {'label_names': [n.encode() for n in names], 'num_vis': 3072})
  parts = np.array_split(np.arange(len(train_labels)), 5)
  for i, part in enumerate(parts, 1):
    write_cifar_pickle(os.path.join(folder, f'data_batch_{i}'), {
        'batch_label': f'training batch {i} of 5'.encode(),
        'labels': [int(v) for v in np.asarray(train_labels)[part]],
        'data': cifar_rows(np.asarray(train_images)[part]),
        'filenames': [f'{j}.png'.encode() for j in part]})
  write_cifar_pickle(os.path.join(folder, 'test_batch'), {
      'batch_label': b'testing batch 1 of 1', 'labels': [int(v) for v in test_labels],
      'data': cifar_rows(test_images)})
  return folder


def tar_gz(folder, archive):
  """`folder` packed as the official archive is: a .tar.gz holding the folder by name."""
  import tarfile  # pylint: disable=g-import-not-at-top
  with tarfile.open(archive, 'w:gz') as tar:
    tar.add(folder, arcname=os.path.basename(folder))
  return str(archive)
