"""The official dataset files: idx-ubyte, CIFAR pickles, Keras' mnist.npz, where they are found.

Every file here is written by the tests in the exact format (conftest's
writers: magic numbers and big-endian sizes, pickled dicts with byte-string
keys and channel-planar rows, the npz keys); what is read back must equal
what was written, pixel for pixel and label for label.
"""
import json
import os
import struct

import numpy as np
import pytest

from cnnlab import dataset_files, input_pipeline
from cnnlab.core.errors import UserError
from configs import base
from conftest import (cifar_rows, random_idx_split, run_module, tar_gz, write_cifar10_folder,
                      write_cifar_pickle, write_idx, write_idx_folder)


@pytest.fixture(autouse=True)
def no_data_on_this_machine(no_local_datasets, monkeypatch):
  """No test sees the machine's own datasets (~/.keras, /usr/share/datasets) or asks tfds."""
  del no_local_datasets

  def no_tfds(name, data_config, split):
    raise UserError(f'could not load tfds dataset {name!r}: offline (test)')

  monkeypatch.setattr(input_pipeline, 'load_tfds', no_tfds)


def data_config(name, path, **kw):
  config = base.get_config().data
  config.name, config.dir = name, str(path)
  for k, v in kw.items():
    config[k] = v
  return config


def asymmetric_image(size=28):
  """A bright pixel near the top-left and a bar down the right edge: any flip or transpose shows."""
  image = np.zeros((size, size), np.uint8)
  image[1, 3] = 255
  image[5:20, size - 2] = 128
  return image


# ---- idx ----------------------------------------------------------------------------

def test_idx_bytes_are_the_documented_format(tmp_path):
  path = write_idx(tmp_path / 'x-idx3-ubyte', np.arange(2 * 3 * 4).reshape(2, 3, 4))
  raw = open(path, 'rb').read()
  assert raw[:4] == b'\x00\x00\x08\x03' and struct.unpack('>3I', raw[4:16]) == (2, 3, 4)
  np.testing.assert_array_equal(dataset_files.read_idx(path), np.arange(24).reshape(2, 3, 4))


@pytest.mark.parametrize('gz', [True, False])
def test_fashion_mnist_idx_folder_reads_back_pixel_for_pixel(tmp_path, gz):
  train_images, train_labels = random_idx_split(40, seed=0)
  train_images[7] = asymmetric_image()
  test_images, test_labels = random_idx_split(20, seed=1)
  folder = write_idx_folder(tmp_path / 'fm', (train_images, train_labels),
                            (test_images, test_labels), gz=gz)
  train = input_pipeline.load_dataset(data_config('fashion_mnist', folder), 'train')
  test = input_pipeline.load_dataset(data_config('fashion_mnist', folder), 'test')
  assert train.images.shape == (40, 28, 28, 1) and train.images.dtype == np.uint8
  np.testing.assert_array_equal(train.images[..., 0], train_images)
  np.testing.assert_array_equal(train.labels, train_labels)
  np.testing.assert_array_equal(test.images[..., 0], test_images)
  np.testing.assert_array_equal(test.labels, test_labels)
  # Orientation: row 1, column 3 is the bright pixel; the bar is on the right.
  assert train.images[7, 1, 3, 0] == 255 and train.images[7, 3, 1, 0] == 0
  assert train.images[7, 10, 26, 0] == 128 and train.images[7, 10, 1, 0] == 0
  assert train.class_names[0] == 'T-shirt/top' and train.class_names[9] == 'Ankle boot'


def test_official_test_split_is_the_test_part_and_val_is_carved_from_train(tmp_path):
  folder = write_idx_folder(tmp_path / 'fm', random_idx_split(100, seed=0),
                            random_idx_split(30, seed=1))
  config = base.get_config()
  config.data.name, config.data.dir = 'fashion_mnist', folder
  config.data.val_fraction, config.data.test_fraction = 0.2, 0.1  # test_fraction: not used
  splits = input_pipeline.load_all_splits(config)
  assert len(splits.test.labels) == 30 and len(splits.val.labels) == 20
  assert len(splits.train.labels) == 80
  np.testing.assert_array_equal(splits.test.images[..., 0], random_idx_split(30, seed=1)[0])
  assert np.bincount(splits.val.labels).tolist() == [2] * 10  # stratified
  assert 'official test split' in input_pipeline.test_source(config.data)
  # The training code's own path leaves the test split unread.
  _, val = input_pipeline.load_splits(config)
  np.testing.assert_array_equal(val.images, splits.val.images)


def test_torchvision_layout_and_generic_idx_with_other_classes(tmp_path):
  # torchvision keeps <root>/<Name>/raw/*-ubyte (unpacked beside the .gz); EMNIST-style prefixes.
  raw = tmp_path / 'root' / 'KMNIST' / 'raw'
  images, labels = random_idx_split(30, seed=2, classes=3)
  write_idx_folder(raw, (images, labels), (images[:6], labels[:6]), gz=False)
  ds = input_pipeline.load_dataset(data_config('kmnist', tmp_path / 'root'), 'train')
  np.testing.assert_array_equal(ds.images[..., 0], images)
  assert ds.class_names[:3] == ['o', 'ki', 'su']
  # data.dir naming one of the files reads its folder.
  one_file = data_config('kmnist', raw / 't10k-labels-idx1-ubyte')
  np.testing.assert_array_equal(input_pipeline.load_dataset(one_file, 'test').labels, labels[:6])
  folder = tmp_path / 'emnist'
  os.makedirs(folder)
  write_idx(folder / 'emnist-letters-train-images-idx3-ubyte.gz', images)
  write_idx(folder / 'emnist-letters-train-labels-idx1-ubyte.gz', labels + 20)
  ds = input_pipeline.load_dataset(data_config('idx', folder), 'train')
  assert ds.class_names == [str(k) for k in range(23)] and ds.labels.max() == 22


# ---- CIFAR pickles ------------------------------------------------------------------

def cifar_images(n, seed):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
  # Image 0: pure red top-left pixel, pure blue bottom-right: channel order and orientation.
  images[0] = 0
  images[0, 0, 1] = (255, 0, 0)
  images[0, 31, 30] = (0, 0, 255)
  return images


@pytest.mark.parametrize('packed', [False, True])
def test_cifar10_folder_and_archive_read_back_pixel_for_pixel(tmp_path, packed):
  train_images, test_images = cifar_images(25, 0), cifar_images(7, 1)
  train_labels, test_labels = np.arange(25) % 10, (np.arange(7) * 3) % 10
  names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
           'truck']
  folder = write_cifar10_folder(tmp_path / 'keras' / 'datasets', train_images, train_labels,
                                test_images, test_labels, names)
  # The first row is red's 1,024 bytes: its pixel (0, 1) is 255.
  assert cifar_rows(train_images)[0, 1] == 255 and cifar_rows(train_images)[0, 1024 + 1] == 0
  path = tar_gz(folder, tmp_path / 'cifar-10-python.tar.gz') if packed else tmp_path / 'keras'
  if not packed:
    path = path / 'datasets'  # the folder above cifar-10-batches-py, as Keras' cache is
  train = input_pipeline.load_dataset(data_config('cifar10', path), 'train')
  test = input_pipeline.load_dataset(data_config('cifar10', path), 'test')
  np.testing.assert_array_equal(train.images, train_images)
  np.testing.assert_array_equal(train.labels, train_labels)
  np.testing.assert_array_equal(test.images, test_images)
  np.testing.assert_array_equal(test.labels, test_labels)
  assert tuple(train.images[0, 0, 1]) == (255, 0, 0) and tuple(train.images[0, 31, 30]) == (0, 0, 255)
  assert train.class_names == names


@pytest.mark.parametrize('labels_kind,classes', [('fine', 100), ('coarse', 20)])
def test_cifar100_fine_and_coarse_labels_with_names_from_meta(tmp_path, labels_kind, classes):
  folder = tmp_path / 'cifar-100-python'
  os.makedirs(folder)
  images = cifar_images(12, 3)
  fine, coarse = (np.arange(12) * 7) % 100, np.arange(12) % 20
  write_cifar_pickle(folder / 'meta', {
      'fine_label_names': [f'fine{k}'.encode() for k in range(100)],
      'coarse_label_names': [f'coarse{k}'.encode() for k in range(20)]})
  for split in ('train', 'test'):
    write_cifar_pickle(folder / split, {'data': cifar_rows(images), 'fine_labels': list(fine),
                                        'coarse_labels': list(coarse),
                                        'filenames': [b'x.png'] * 12})
  ds = input_pipeline.load_dataset(data_config('cifar100', folder, cifar100_labels=labels_kind),
                                   'test')
  np.testing.assert_array_equal(ds.images, images)
  np.testing.assert_array_equal(ds.labels, fine if labels_kind == 'fine' else coarse)
  assert ds.num_classes == classes and ds.class_names[1] == f'{labels_kind}1'
  with pytest.raises(UserError, match="cifar100_labels='medium'"):
    input_pipeline.load_dataset(data_config('cifar100', folder, cifar100_labels='medium'))


# ---- Keras' mnist.npz ---------------------------------------------------------------

def test_keras_mnist_npz_and_the_keras_cache_is_found_without_data_dir(tmp_path, monkeypatch):
  x_train, y_train = random_idx_split(30, seed=4)
  x_train[0] = asymmetric_image()
  x_test, y_test = random_idx_split(10, seed=5)
  cache = tmp_path / 'keras_home' / 'datasets'
  os.makedirs(cache)
  np.savez(cache / 'mnist.npz', x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
  ds = input_pipeline.load_dataset(data_config('mnist', ''), 'train')  # found in KERAS_HOME
  np.testing.assert_array_equal(ds.images[..., 0], x_train)
  np.testing.assert_array_equal(ds.labels, y_train)
  assert ds.images[0, 1, 3, 0] == 255 and ds.class_names == [str(k) for k in range(10)]
  test = input_pipeline.load_dataset(data_config('mnist', cache / 'mnist.npz'), 'test')
  np.testing.assert_array_equal(test.images[..., 0], x_test)


def test_debian_package_location_is_found_without_data_dir(tmp_path):
  write_idx_folder(tmp_path / 'usr_share' / 'fashion-mnist', random_idx_split(20, 0),
                   random_idx_split(10, 1))
  ds = input_pipeline.load_dataset(data_config('fashion_mnist', ''), 'test')
  np.testing.assert_array_equal(ds.labels, random_idx_split(10, 1)[1])


# ---- bad input ----------------------------------------------------------------------

def test_nothing_found_lists_the_places_and_how_to_get_it(tmp_path):
  with pytest.raises(UserError) as e:
    input_pipeline.load_dataset(data_config('fashion_mnist', ''))
  message = str(e.value)
  assert os.path.join('keras_home', 'datasets', 'fashion-mnist') in message
  assert os.path.join('usr_share', 'fashion-mnist') in message
  assert 'apt-get install dataset-fashion-mnist' in message and 'tensorflow-datasets' in message
  assert 'data.download=True' in message  # tfds has not prepared it: nothing downloads
  with pytest.raises(UserError, match=r'no cifar10 data found.*\n.*nowhere'):
    input_pipeline.load_dataset(data_config('cifar10', tmp_path / 'nowhere'))


def idx_folder_with(tmp_path, mutate):
  folder = write_idx_folder(tmp_path / 'bad', random_idx_split(20, 0), random_idx_split(10, 1),
                            gz=False)
  mutate(folder)
  return folder


def truncate(path, keep):
  raw = open(path, 'rb').read()
  open(path, 'wb').write(raw[:keep])


def overwrite(path, offset, data):
  raw = bytearray(open(path, 'rb').read())
  raw[offset:offset + len(data)] = data
  open(path, 'wb').write(bytes(raw))


BAD_IDX = {
    'truncated': (lambda f: truncate(os.path.join(f, 'train-images-idx3-ubyte'), 1000),
                  r"train-images-idx3-ubyte' is truncated: its header gives shape \(20, 28, 28\)"),
    'header cut': (lambda f: truncate(os.path.join(f, 'train-labels-idx1-ubyte'), 6),
                   r"train-labels-idx1-ubyte' is truncated: 6 bytes, shorter than its own header"),
    'wrong magic': (lambda f: overwrite(os.path.join(f, 'train-images-idx3-ubyte'), 0,
                                        b'\x1f\x00\x08\x03'),
                    r"train-images-idx3-ubyte' is not an idx file: it starts with 1f000803"),
    'counts differ': (lambda f: write_idx(os.path.join(f, 'train-labels-idx1-ubyte'),
                                          np.zeros(19)),
                      r"holds 20 images but .*train-labels-idx1-ubyte' 19 labels"),
    'label out of range': (lambda f: write_idx(os.path.join(f, 'train-labels-idx1-ubyte'),
                                               np.full(20, 10)),
                           r"holds label 10, but this dataset has 10 classes"),
    'gzip cut short': (lambda f: (write_idx(os.path.join(f, 'train-images-idx3-ubyte.gz'),
                                            np.zeros((20, 28, 28))),
                                  os.remove(os.path.join(f, 'train-images-idx3-ubyte')),
                                  truncate(os.path.join(f, 'train-images-idx3-ubyte.gz'), 40)),
                       r"train-images-idx3-ubyte.gz' is a damaged or truncated gzip file"),
    'missing file': (lambda f: os.remove(os.path.join(f, 't10k-labels-idx1-ubyte')),
                     r"has no test-labels idx file: it needs t10k-images-idx3-ubyte\[.gz\]"),
}


@pytest.mark.parametrize('case', sorted(BAD_IDX))
def test_bad_idx_files_are_clear_errors_naming_the_file(tmp_path, case):
  mutate, message = BAD_IDX[case]
  folder = idx_folder_with(tmp_path, mutate)
  config = base.get_config()
  config.data.name, config.data.dir = 'fashion_mnist', folder
  config.data.cache_dir = str(tmp_path / 'cache')
  with pytest.raises(UserError, match=message):
    input_pipeline.load_all_splits(config)
  assert not os.path.exists(tmp_path / 'cache')  # nothing written, nothing half-written


def test_bad_cifar_files_are_clear_errors_naming_the_file(tmp_path):
  images = cifar_images(10, 0)
  folder = write_cifar10_folder(tmp_path, images, np.arange(10), images[:2], [0, 1])
  batch = os.path.join(folder, 'data_batch_3')
  write_cifar_pickle(batch, {'data': cifar_rows(images[:2])})  # no labels
  with pytest.raises(UserError, match=r"data_batch_3' has no 'labels' entry \(it has data\)"):
    input_pipeline.load_dataset(data_config('cifar10', folder))
  write_cifar_pickle(batch, {'data': cifar_rows(images[:2])[:, :100], 'labels': [0, 1]})
  with pytest.raises(UserError, match=r"data_batch_3': data is uint8 of shape \(2, 100\)"):
    input_pipeline.load_dataset(data_config('cifar10', folder))
  write_cifar_pickle(batch, {'data': cifar_rows(images[:2]), 'labels': [0, 1, 2]})
  with pytest.raises(UserError, match=r"data_batch_3' holds 2 images but 3 labels"):
    input_pipeline.load_dataset(data_config('cifar10', folder))
  truncate(batch, 50)
  with pytest.raises(UserError, match=r"data_batch_3' is not a readable CIFAR pickle"):
    input_pipeline.load_dataset(data_config('cifar10', folder))
  # A pickle that would run code is refused, not executed.
  open(batch, 'wb').write(b"cos\nsystem\n(S'touch pwned'\ntR.")
  with pytest.raises(UserError, match='refusing to load os.system'):
    input_pipeline.load_dataset(data_config('cifar10', folder))
  assert not os.path.exists('pwned')
  archive = tar_gz(folder, tmp_path / 'cifar-10-python.tar.gz')
  truncate(archive, 200)
  with pytest.raises(UserError, match=r"cifar-10-python.tar.gz'.*(cut short|damaged)"):
    input_pipeline.load_dataset(data_config('cifar10', archive))


def test_bad_keras_npz_is_a_clear_error(tmp_path):
  path = tmp_path / 'mnist.npz'
  np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.zeros(2))
  with pytest.raises(UserError, match=r"mnist.npz' holds 3 images \(x_train\) but 2 labels"):
    input_pipeline.load_dataset(data_config('mnist', path), 'train')
  with pytest.raises(UserError, match=r"mnist.npz' has no x_test or y_test"):
    input_pipeline.load_dataset(data_config('mnist', path), 'test')
  truncate(path, 30)
  with pytest.raises(UserError, match=r"mnist.npz' is not a readable .npz"):
    input_pipeline.load_dataset(data_config('mnist', path), 'train')


def test_a_bad_file_exits_2_without_a_traceback(tmp_path):
  folder = idx_folder_with(tmp_path, BAD_IDX['truncated'][0])
  result = run_module('cnnlab.main', '--config=configs/seeds/seed003_brief.py',
                      f'--workdir={tmp_path / "run"}', f'--config.data.dir={folder}')
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'is truncated' in result.stderr and 'Traceback' not in result.stderr


def test_a_run_on_an_official_source_reads_its_test_split_once_and_evaluate_again(tmp_path):
  from cnnlab import api, train  # pylint: disable=g-import-not-at-top
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top
  train_split, test_split = random_idx_split(60, seed=0), random_idx_split(20, seed=1)
  folder = write_idx_folder(tmp_path / 'fm', train_split, test_split)
  config = tiny_config(folder, tmp_path, **{'data.name': 'fashion_mnist', 'num_epochs': 1,
                                            'data.val_fraction': 0.2})
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'eval_test.json')) as f:
    at_the_end = json.load(f)
  assert at_the_end['count'] == 20 and at_the_end['split'] == 'test'
  assert at_the_end['test_source'] == 'the official test split of fashion_mnist'
  os.remove(os.path.join(workdir, 'eval_test.json'))
  again = api.evaluate(workdir, split='test', report=False)  # cnnlab.evaluate --split=test
  assert again['name'] == 'test' and again['count'] == 20
  assert again['accuracy'] == at_the_end['accuracy'] and again['confusion'] == at_the_end['confusion']
  assert api.figures(workdir, 'test')  # the test images are loaded again for the figures
  with pytest.raises(UserError, match=r"--split='train': the run's own data has the splits"):
    api.evaluate(workdir, split='train')
  # The idx folder as --data_dir: the rule reads it as the run's own source
  # (fashion_mnist's class names), its test split; predict gets row numbers.
  from_dir = api.evaluate(workdir, data_dir=folder, report=False)
  assert from_dir['data_name'] == 'fashion_mnist' and from_dir['count'] == 20
  assert from_dir['confusion'] == at_the_end['confusion']
  predicted = api.predict(workdir, folder)
  assert predicted['ids'] == list(range(20))
  np.testing.assert_allclose(predicted['probabilities'].sum(1), 1.0, atol=1e-5)
  # Tuning runs can leave the test split unread: no test number exists.
  config.data.official_test = False
  train.train_and_evaluate(config, str(tmp_path / 'tuning'))
  assert not os.path.exists(tmp_path / 'tuning' / 'eval_test.json')


# ---- which source reads a bare path (input_pipeline.source_for_path) ----------------

def test_the_rule_recognises_the_official_files(tmp_path):
  rule = input_pipeline.source_for_path
  idx = write_idx_folder(tmp_path / 'idx', random_idx_split(4, 0), random_idx_split(2, 1))
  assert rule(idx) == ('idx', 'it holds idx files (classes 0..K-1)')
  assert rule(os.path.join(idx, 't10k-images-idx3-ubyte.gz'))[0] == 'idx'
  # The run's own source keeps its class names where it reads idx files.
  assert rule(idx, 'fashion_mnist') == (
      'fashion_mnist', "it holds idx files, which the run's data (fashion_mnist) is read from")
  assert rule(idx, 'cifar10')[0] == rule(idx, 'image_folder')[0] == 'idx'
  torchvision = tmp_path / 'torch'
  write_idx_folder(torchvision / 'KMNIST' / 'raw', random_idx_split(4, 0), random_idx_split(2, 1))
  assert rule(str(torchvision), 'kmnist')[0] == 'kmnist'
  images = cifar_images(5, 0)
  keras = tmp_path / 'keras'
  folder = write_cifar10_folder(keras, images, np.arange(5), images[:2], np.arange(2))
  assert rule(folder) == ('cifar10', "it holds cifar10's batches (cifar-10-batches-py)")
  assert rule(str(keras))[0] == 'cifar10'  # Keras' cache: the folder above
  archive = tar_gz(folder, tmp_path / 'cifar-10-python.tar.gz')
  assert rule(archive) == ('cifar10', "it is cifar10's archive cifar-10-python.tar.gz")
  cifar100 = tmp_path / 'cifar-100-python'
  os.makedirs(cifar100)
  write_cifar_pickle(cifar100 / 'train', {'data': cifar_rows(images), 'fine_labels': [0] * 5})
  assert rule(str(cifar100))[0] == 'cifar100'
  with pytest.raises(UserError, match='cannot tell which source'):
    rule(str(tmp_path / 'other.tar.gz'))  # any archive: only CIFAR's own names are known
  x_train, y_train = random_idx_split(4, 0)
  np.savez(tmp_path / 'mnist.npz', x_train=x_train, y_train=y_train, x_test=x_train,
           y_test=y_train)
  assert rule(str(tmp_path / 'mnist.npz')) == (
      'mnist', "it holds Keras' x_train, y_train, x_test, y_test, as mnist.npz does")
  # With an images array the arrays source reads it, whatever else it holds.
  np.savez(tmp_path / 'both.npz', images=x_train, labels=y_train, x_train=x_train,
           y_train=y_train, x_test=x_train, y_test=y_train)
  assert rule(str(tmp_path / 'both.npz'))[0] == 'arrays'


def test_an_official_source_read_unlabelled_gives_its_images_and_row_numbers(tmp_path):
  test_images, test_labels = random_idx_split(6, 1, size=8)
  folder = write_idx_folder(tmp_path / 'fm', random_idx_split(10, 0, size=8),
                            (test_images, test_labels))
  ds = input_pipeline.load_dataset(data_config('fashion_mnist', folder), 'test', labelled=False)
  np.testing.assert_array_equal(ds.images[..., 0], test_images)
  assert ds.ids.tolist() == list(range(6)) and (ds.labels == input_pipeline.NO_LABEL).all()
  assert ds.class_names == []
