"""Data loading: real JPEG decoding, caching, conversions, arrays files, the split."""
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from cnnlab import input_pipeline
from cnnlab.core.errors import UserError
from configs import base
from conftest import make_image_folder


def data_config(path, tmp_path, **kw):
  config = base.get_config().data
  config.dir = str(path)
  config.cache_dir = str(tmp_path / 'cache')
  for k, v in kw.items():
    config[k] = v
  return config


def test_image_folder_decodes_sorted_classes(tmp_path):
  root = make_image_folder(tmp_path / 'f', classes=('zebra', 'ant', 'cat'), per_class=3, size=8)
  ds = input_pipeline.load_dataset(data_config(root, tmp_path, name='image_folder'))
  assert ds.class_names == ['ant', 'cat', 'zebra']
  assert ds.images.shape == (9, 8, 8, 3) and ds.images.dtype == np.uint8
  assert list(ds.labels) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
  # Real JPEG decoding: the same pixels PIL reads.
  expected = np.asarray(Image.open(os.path.join(root, 'ant', '0000.jpg')))
  np.testing.assert_array_equal(ds.images[0], expected)
  assert ds.ids[0] == os.path.join('ant', '0000.jpg')


def test_image_folder_cache_hit_and_invalidation(tmp_path, monkeypatch):
  root = make_image_folder(tmp_path / 'f', per_class=2, size=8)
  config = data_config(root, tmp_path)
  first = input_pipeline.load_dataset(config)
  assert len(os.listdir(config.cache_dir)) == 1

  def no_decoding(*args):
    raise AssertionError('decoded again despite the cache')

  monkeypatch.setattr(input_pipeline, '_decode', no_decoding)
  second = input_pipeline.load_dataset(config)
  np.testing.assert_array_equal(first.images, second.images)
  # Adding a file changes the folder's fingerprint: decode again.
  Image.new('RGB', (8, 8)).save(os.path.join(root, 'cat', 'new.png'))
  with pytest.raises(AssertionError, match='decoded again'):
    input_pipeline.load_dataset(config)
  # So does rewriting a file in place (same name, other content).
  monkeypatch.undo()
  input_pipeline.load_dataset(config)
  monkeypatch.setattr(input_pipeline, '_decode', no_decoding)
  path = os.path.join(root, 'cat', 'new.png')
  Image.new('RGB', (8, 8), (255, 0, 0)).save(path)
  os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
  with pytest.raises(AssertionError, match='decoded again'):
    input_pipeline.load_dataset(config)
  # Each new content replaced the folder's old cache instead of piling up.
  monkeypatch.undo()
  input_pipeline.load_dataset(config)
  assert len(os.listdir(config.cache_dir)) == 1
  # The same folder at another path (times kept, as cp -p does) hits the cache.
  monkeypatch.setattr(input_pipeline, '_decode', no_decoding)
  moved = tmp_path / 'elsewhere' / 'f'
  shutil.copytree(root, moved)
  config.dir = str(moved)
  again = input_pipeline.load_dataset(config)
  assert len(again.labels) == 7 and len(os.listdir(config.cache_dir)) == 1
  # Another folder of the same name keeps its own cache next to it.
  monkeypatch.undo()
  other = make_image_folder(tmp_path / 'other' / 'f', per_class=3, size=8)
  config.dir = other
  input_pipeline.load_dataset(config)
  assert len(os.listdir(config.cache_dir)) == 2


def test_grayscale_and_rgba_converted_to_dataset_channels(tmp_path):
  root = make_image_folder(tmp_path / 'f', classes=('a',), per_class=2, size=8)
  make_image_folder(tmp_path / 'f', classes=('b',), per_class=2, size=8, mode='L', ext='png')
  make_image_folder(tmp_path / 'f', classes=('c',), per_class=2, size=8, mode='RGBA', ext='png')
  ds = input_pipeline.load_dataset(data_config(root, tmp_path))
  assert ds.images.shape == (6, 8, 8, 3)  # mixed -> RGB
  gray = np.asarray(Image.open(os.path.join(root, 'b', '0000.png')))
  np.testing.assert_array_equal(ds.images[2], np.stack([gray] * 3, -1))
  ds1 = input_pipeline.load_dataset(data_config(root, tmp_path, channels=1))
  assert ds1.images.shape == (6, 8, 8, 1)
  only_gray = make_image_folder(tmp_path / 'g', classes=('x', 'y'), per_class=2, mode='L', ext='png')
  assert input_pipeline.load_dataset(data_config(only_gray, tmp_path)).images.shape[-1] == 1


def test_mixed_sizes_error_or_resize(tmp_path):
  root = make_image_folder(tmp_path / 'f', classes=('a',), per_class=2, size=8)
  make_image_folder(tmp_path / 'f', classes=('b',), per_class=2, size=12)
  with pytest.raises(UserError, match=r'different sizes.*image_size'):
    input_pipeline.load_dataset(data_config(root, tmp_path))
  ds = input_pipeline.load_dataset(data_config(root, tmp_path, image_size=10))
  assert ds.images.shape == (4, 10, 10, 3)


def test_corrupt_jpeg_named_or_skipped(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=3, size=8)
  bad = os.path.join(root, 'dog', '0001.jpg')
  with open(bad, 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 this is not a jpeg')
  with pytest.raises(UserError) as e:
    input_pipeline.load_dataset(data_config(root, tmp_path))
  assert bad in str(e.value) and 'skip_corrupt' in str(e.value)
  ds = input_pipeline.load_dataset(data_config(root, tmp_path, skip_corrupt=True))
  assert len(ds.labels) == 8
  assert ds.skipped == [os.path.join('dog', '0001.jpg')]
  # The second load comes from the decoded cache and still knows what was skipped.
  cached = input_pipeline.load_dataset(data_config(root, tmp_path, skip_corrupt=True))
  assert len(cached.labels) == 8 and cached.skipped == ds.skipped
  assert len(os.listdir(tmp_path / 'cache')) == 1


def test_folder_errors(tmp_path):
  with pytest.raises(UserError, match='does not exist'):
    input_pipeline.load_dataset(data_config(tmp_path / 'missing', tmp_path))
  (tmp_path / 'flat').mkdir()
  Image.new('RGB', (8, 8)).save(tmp_path / 'flat' / 'x.jpg')
  with pytest.raises(UserError, match='no class sub-folders'):
    input_pipeline.load_dataset(data_config(tmp_path / 'flat', tmp_path))
  root = make_image_folder(tmp_path / 'f', classes=('a',), per_class=1, size=8)
  os.makedirs(os.path.join(root, 'empty'))
  with pytest.raises(UserError, match="empty' holds no"):
    input_pipeline.load_dataset(data_config(root, tmp_path))


def test_arrays_dict_npy_with_labels_1_to_5(tmp_path):
  # Seed 003's format: a pickled dict with flat 28x28 features and labels 1..5.
  rng = np.random.default_rng(0)
  features = rng.integers(0, 256, (20, 784)).astype(np.float64)
  target = np.repeat(np.arange(1, 6), 4)
  path = tmp_path / 'train.npy'
  np.save(path, {'features': features, 'target': target})
  ds = input_pipeline.load_dataset(data_config(path, tmp_path, name='arrays'))
  assert ds.images.shape == (20, 28, 28, 1) and ds.images.dtype == np.uint8
  np.testing.assert_array_equal(ds.images.reshape(20, -1), features)
  assert ds.label_values == [1, 2, 3, 4, 5]
  np.testing.assert_array_equal(ds.labels, target - 1)


def test_arrays_npz_string_labels_and_float_images(tmp_path):
  images = np.random.default_rng(0).random((6, 4, 4, 3)).astype(np.float32)
  path = tmp_path / 'd.npz'
  np.savez(path, x=images, y=np.array(['b', 'a', 'c', 'a', 'b', 'c']), id=np.arange(100, 106))
  ds = input_pipeline.load_dataset(data_config(path, tmp_path, name='arrays'))
  assert ds.label_values == ['a', 'b', 'c'] and list(ds.labels) == [1, 0, 2, 0, 1, 2]
  np.testing.assert_array_equal(ds.images, np.round(images * 255).astype(np.uint8))
  assert list(ds.ids) == list(range(100, 106))
  np.savez(tmp_path / 'bad.npz', pixels=images)
  with pytest.raises(UserError, match='no images array'):
    input_pipeline.load_dataset(data_config(tmp_path / 'bad.npz', tmp_path, name='arrays'))


@pytest.mark.parametrize('fraction', [0.1, 0.25, 0.5])
def test_stratified_split_properties(fraction):
  labels = np.random.default_rng(1).integers(0, 7, 1003)
  rest, held = input_pipeline.stratified_split(labels, fraction, seed=3)
  assert len(np.intersect1d(rest, held)) == 0
  np.testing.assert_array_equal(np.sort(np.concatenate([rest, held])), np.arange(1003))
  for c in range(7):
    n_c = (labels == c).sum()
    assert abs((labels[held] == c).sum() - fraction * n_c) <= 1
  again_rest, again_held = input_pipeline.stratified_split(labels, fraction, seed=3)
  np.testing.assert_array_equal(held, again_held)
  _, other = input_pipeline.stratified_split(labels, fraction, seed=4)
  assert not np.array_equal(held, other)


def test_epoch_permutation_is_a_function_of_seed_and_epoch():
  a = input_pipeline.epoch_permutation(0, 3, 50)
  np.testing.assert_array_equal(a, input_pipeline.epoch_permutation(0, 3, 50))
  assert sorted(a) == list(range(50))
  assert not np.array_equal(a, input_pipeline.epoch_permutation(0, 4, 50))


@pytest.mark.parametrize('name,shape', [('cifar10', (32, 32, 3)), ('mnist', (28, 28, 1)),
                                        ('fashion_mnist', (28, 28, 1))])
def test_tfds_path_offline_with_mock_data(tmp_path, name, shape, no_local_datasets):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (a dependency)
  config = data_config('', tmp_path, name=name)
  # No files anywhere and tfds has not prepared it: nothing downloads unless asked.
  with pytest.raises(UserError, match=r'not prepared in .*data.download=True'):
    input_pipeline.load_dataset(config, 'train')
  config.download = True
  with tfds.testing.mock_data(num_examples=12):
    ds = input_pipeline.load_dataset(config, 'train')
  assert ds.images.shape == (12,) + shape and ds.images.dtype == np.uint8
  assert ds.num_classes == 10 and ds.labels.max() < 10


def test_tfds_download_path_has_its_dependencies(tmp_path):
  # tfds.load's download step reads builder.code_path (etils.epath), which
  # imports importlib_resources: without it a user with internet gets a
  # ModuleNotFoundError instead of CIFAR-10. Offline, this is as far as it goes.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (a dependency)
  builder = tfds.builder('cifar10', data_dir=str(tmp_path))
  assert builder.code_path.name.endswith('.py') and builder.code_path.exists()


def test_load_splits_subsample_and_unknown_dataset(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=20, size=8)
  config = base.get_config()
  config.data.dir, config.data.cache_dir = root, str(tmp_path / 'cache')
  config.data.max_examples, config.data.val_fraction = 30, 0.2
  train, val = input_pipeline.load_splits(config)
  assert len(train.labels) + len(val.labels) == 30 and len(val.labels) == 6
  assert np.bincount(val.labels).tolist() == [2, 2, 2]
  config.data.name = 'imagenet'
  with pytest.raises(UserError, match='Known datasets: arrays, cifar10'):
    input_pipeline.load_splits(config)


def test_fewer_than_two_classes_is_refused(tmp_path):
  root = make_image_folder(tmp_path / 'one', classes=('cat',), per_class=6, size=8)
  config = base.get_config()
  config.data.dir, config.data.cache_dir = root, str(tmp_path / 'cache')
  with pytest.raises(UserError, match=r"1 class\(es\) \(cat\): a classifier needs at least 2"):
    input_pipeline.load_splits(config)
  config.data.name, config.data.dir = 'arrays', str(tmp_path / 'one.npz')
  np.savez(config.data.dir, images=np.zeros((4, 8, 8, 1), np.uint8), labels=np.full(4, 3))
  with pytest.raises(UserError, match='at least two distinct labels'):
    input_pipeline.load_splits(config)


def folder_config(root, tmp_path, **data):
  config = base.get_config()
  config.data.dir, config.data.cache_dir = str(root), str(tmp_path / 'cache')
  for key, value in data.items():
    config.data[key] = value
  return config


def test_three_way_split(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=30, size=8)
  config = folder_config(root, tmp_path, val_fraction=0.1, test_fraction=0.1)
  splits = input_pipeline.load_all_splits(config)
  # Seed 003's 80/10/10, stratified: 3 of each class in val and in test.
  assert [len(s.labels) for s in splits] == [72, 9, 9]
  assert np.bincount(splits.val.labels).tolist() == np.bincount(splits.test.labels).tolist() == [3] * 3
  ids = [set(s.ids.tolist()) for s in splits]
  assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
  assert len(ids[0] | ids[1] | ids[2]) == 90
  assert input_pipeline.load_splits(config)[1].ids.tolist() == splits.val.ids.tolist()
  # The test part depends on the seed and test_fraction only, not on how val is chosen.
  for other in (dict(val_fraction=0.3), dict(val_fraction=0.0)):
    again = input_pipeline.load_all_splits(folder_config(root, tmp_path, test_fraction=0.1, **other))
    assert again.test.ids.tolist() == splits.test.ids.tolist()
  config.seed = 1
  assert input_pipeline.load_all_splits(config).test.ids.tolist() != splits.test.ids.tolist()
  # test_fraction=0: no test part, and the very split val_fraction always made.
  plain = input_pipeline.load_all_splits(folder_config(root, tmp_path, val_fraction=0.1))
  assert len(plain.test.labels) == 0 and plain.test.images.shape[1:] == (8, 8, 3)
  everything = input_pipeline.load_dataset(config.data)
  rest, held = input_pipeline.stratified_split(everything.labels, 0.1, seed=0)
  assert plain.val.ids.tolist() == everything.ids[held].tolist()
  assert plain.train.ids.tolist() == everything.ids[rest].tolist()


@pytest.mark.parametrize('data,phrase', [
    (dict(test_fraction=1.0), r'test_fraction=1.0 must be in \[0, 1\)'),
    (dict(test_fraction=0.5, val_fraction=0.5), 'leave nothing to train on'),
])
def test_three_way_split_errors(tmp_path, data, phrase):
  root = make_image_folder(tmp_path / 'f', per_class=4, size=8)
  with pytest.raises(UserError, match=phrase):
    input_pipeline.load_all_splits(folder_config(root, tmp_path, **data))


def test_val_dir_folder_and_arrays(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=6, size=8)
  # Two of the three classes, grayscale: loaded at the training data's 3 channels.
  held = make_image_folder(tmp_path / 'held', classes=('frog', 'cat'), per_class=2, size=8,
                           mode='L', ext='png')
  train, val, test = input_pipeline.load_all_splits(folder_config(root, tmp_path, val_dir=held))
  assert len(train.labels) == 18 and len(test.labels) == 0  # val_fraction (0.1) ignored
  assert val.class_names == ['cat', 'dog', 'frog'] and sorted(val.labels.tolist()) == [0, 0, 2, 2]
  assert val.images.shape == (4, 8, 8, 3)
  # With a test part: carved from the training data, val still the folder.
  train, val, test = input_pipeline.load_all_splits(
      folder_config(root, tmp_path, val_dir=held, test_fraction=0.5))
  assert (len(train.labels), len(val.labels), len(test.labels)) == (9, 4, 9)
  # Arrays: labels 1..5 in training, a val file holding 2 and 5 only.
  rng = np.random.default_rng(0)
  np.savez(tmp_path / 'train.npz', x=rng.integers(0, 256, (20, 8, 8, 1), dtype=np.uint8),
           y=np.repeat([1, 2, 3, 4, 5], 4))
  np.savez(tmp_path / 'val.npz', x=rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8),
           y=np.array([5, 2, 5]))
  config = folder_config(tmp_path / 'train.npz', tmp_path, name='arrays',
                         val_dir=str(tmp_path / 'val.npz'))
  train, val = input_pipeline.load_splits(config)
  assert len(train.labels) == 20 and val.labels.tolist() == [4, 1, 4]
  assert val.label_values == [1, 2, 3, 4, 5]
  # Another class, or another image size, is refused naming the source.
  stranger = make_image_folder(tmp_path / 'stranger', classes=('cat', 'zebra'), per_class=1, size=8)
  with pytest.raises(UserError, match=r"data.val_dir=.*stranger.* has classes \['zebra'\]"):
    input_pipeline.load_all_splits(folder_config(root, tmp_path, val_dir=stranger))
  big = make_image_folder(tmp_path / 'big', classes=('cat',), per_class=1, size=12)
  with pytest.raises(UserError, match=r'holds \(12, 12, 3\) images .* \(8, 8, 3\)'):
    input_pipeline.load_all_splits(folder_config(root, tmp_path, val_dir=big))


def test_val_split_validates_on_a_tfds_split_as_seeds_002_and_004_did(tmp_path,
                                                                      no_local_datasets):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  (a dependency)
  from cnnlab import report  # pylint: disable=g-import-not-at-top
  config = folder_config('', tmp_path, name='cifar10', val_split='test', test_fraction=0.25,
                         download=True)
  with tfds.testing.mock_data(num_examples=12):
    splits = input_pipeline.load_all_splits(config)
    test_split = input_pipeline.load_dataset(config.data, 'test')
  # All of the training split trains (but the test part); val is the whole test split.
  assert len(splits.train.labels) + len(splits.test.labels) == 12 and len(splits.test.labels)
  np.testing.assert_array_equal(splits.val.images, test_split.images)
  assert "data.val_split='test'" in report.val_source_note(config)
  assert 'optimistic' in report.val_source_note(config)
  assert report.val_source_note(folder_config('', tmp_path)) == ''
  with pytest.raises(UserError, match=r"val_split='test' names a split of a tfds dataset.*"
                                      r"data.val_dir"):
    input_pipeline.load_all_splits(folder_config(make_image_folder(tmp_path / 'f'), tmp_path,
                                                 val_split='test'))
  with pytest.raises(UserError, match='both set'):
    input_pipeline.load_all_splits(folder_config('', tmp_path, name='cifar10', val_split='test',
                                                 val_dir=str(tmp_path)))


def test_a_folder_loaded_at_other_options_keeps_both_caches(tmp_path, monkeypatch):
  # cnnlab.evaluate loads a training folder at the run's channel count (3)
  # where training inferred it (0): neither load may delete the other's cache.
  root = make_image_folder(tmp_path / 'f', per_class=2, size=8)
  inferred, explicit = data_config(root, tmp_path), data_config(root, tmp_path, channels=3)
  input_pipeline.load_dataset(inferred)
  input_pipeline.load_dataset(explicit)
  assert len(os.listdir(inferred.cache_dir)) == 2

  def no_decoding(*args):
    raise AssertionError('decoded again despite the cache')

  monkeypatch.setattr(input_pipeline, '_decode', no_decoding)
  input_pipeline.load_dataset(inferred)
  input_pipeline.load_dataset(explicit)
  # New content replaces only the cache decoded with the same options.
  monkeypatch.undo()
  Image.new('RGB', (8, 8)).save(os.path.join(root, 'cat', 'new.png'))
  input_pipeline.load_dataset(inferred)
  assert len(os.listdir(inferred.cache_dir)) == 2


# ---- labelled=False (predictions) and the rule for a bare path --------------------

def test_unlabelled_folder_has_the_pixels_the_labelled_source_decodes(tmp_path):
  root = make_image_folder(tmp_path / 'f', classes=('ant', 'cat'), per_class=3, size=8)
  labelled = input_pipeline.load_dataset(data_config(root, tmp_path))
  unlabelled = input_pipeline.load_dataset(data_config(root, tmp_path), labelled=False)
  # Recursive, one id per image: its file name without the extension, where
  # names repeat across class folders its relative path.
  assert list(unlabelled.ids) == sorted(i.replace(os.sep, '/') for i in labelled.ids)
  by_id = dict(zip((i.replace(os.sep, '/') for i in labelled.ids), labelled.images))
  for id_, image in zip(unlabelled.ids, unlabelled.images):
    np.testing.assert_array_equal(image, by_id[id_])
  assert (unlabelled.labels == input_pipeline.NO_LABEL).all()
  assert unlabelled.class_names == [] and unlabelled.label_values == []


def test_unlabelled_folder_ids_are_stems_sorted_naturally_leading_zeros_stay_text(tmp_path):
  folder = tmp_path / 'flat'
  os.makedirs(folder / 'sub')
  for name in ('10.png', '9.png', 'sub/0042.png', 'b.jpg'):
    Image.new('L', (4, 4), 7).save(folder / name)
  paths, ids = input_pipeline.list_images(str(folder))
  assert ids == [9, 10, '0042', 'b']  # by number: 9 < 10 < 42
  assert [os.path.basename(p) for p in paths] == ['9.png', '10.png', '0042.png', 'b.jpg']
  ds = input_pipeline.load_dataset(data_config(folder, tmp_path, name='image_folder'),
                                   labelled=False)
  assert list(ds.ids) == ids and ds.images.shape == (4, 4, 4, 1)
  assert not os.path.exists(tmp_path / 'cache')  # unlabelled folders are not cached
  Image.new('L', (5, 4)).save(folder / '11.png')
  with pytest.raises(UserError, match='different sizes'):
    input_pipeline.load_dataset(data_config(folder, tmp_path), labelled=False)
  (folder / '11.png').write_bytes(b'not a png')
  with pytest.raises(UserError, match=r"cannot decode image .*11.png.*Delete or replace it\.$"):
    input_pipeline.load_dataset(data_config(folder, tmp_path), labelled=False)


def test_unlabelled_arrays_ids_from_the_file_or_row_numbers(tmp_path):
  images = np.arange(3 * 16, dtype=np.uint8).reshape(3, 4, 4)
  np.savez(tmp_path / 'ids.npz', x=images, ids=np.array(['c', 'a', 'b']), y=[1, 2, 3])
  ds = input_pipeline.load_dataset(data_config(tmp_path / 'ids.npz', tmp_path, name='arrays'),
                                   labelled=False)
  assert ds.ids.tolist() == ['c', 'a', 'b'] and (ds.labels == input_pipeline.NO_LABEL).all()
  np.testing.assert_array_equal(ds.images[..., 0], images)
  np.save(tmp_path / 'bare.npy', images)  # a bare array of images: no labels needed
  bare = input_pipeline.load_dataset(data_config(tmp_path / 'bare.npy', tmp_path, name='arrays'),
                                     labelled=False)
  assert bare.ids.tolist() == [0, 1, 2]
  with pytest.raises(UserError, match='bare array'):  # training needs labels
    input_pipeline.load_dataset(data_config(tmp_path / 'bare.npy', tmp_path, name='arrays'))
  np.savez(tmp_path / 'short.npz', images=images, labels=[1, 2, 3], id=[1, 2])
  with pytest.raises(UserError, match=r"3 images but 2 ids \('id'\)"):
    input_pipeline.load_dataset(data_config(tmp_path / 'short.npz', tmp_path, name='arrays'))


def test_the_rule_reads_arrays_files_and_folders_and_names_the_choices_otherwise(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=1, size=4)
  assert input_pipeline.source_for_path(root) == (
      'image_folder', 'it is a folder without idx files or CIFAR batches')
  # By the extension alone: the arrays source then says what is wrong with the file.
  assert input_pipeline.source_for_path(str(tmp_path / 'later.npz')) == (
      'arrays', 'from its .npz extension')
  assert input_pipeline.source_for_path('test.npy')[0] == 'arrays'
  (tmp_path / 'table.csv').write_text('id,x\n')
  for path, missing in ((tmp_path / 'table.csv', ''), (tmp_path / 'gone', ' (it does not exist)')):
    with pytest.raises(UserError) as e:
      input_pipeline.source_for_path(str(path))
    assert f"cannot tell which source reads '{path}'{missing}: it is neither" in str(e.value)
    assert '--data_name=<one of' in str(e.value)
    assert all(n in str(e.value) for n in ('arrays', 'image_folder', 'fashion_mnist', 'cifar10'))


def test_choose_source_logs_its_decision(tmp_path, caplog):
  caplog.set_level('INFO')
  assert input_pipeline.choose_source('test.npz') == 'arrays'
  assert ('Reading test.npz as data.name=arrays (from its .npz extension; pass --data_name to '
          'choose)') in caplog.text
  assert input_pipeline.choose_source('test.npz', 'image_folder') == 'image_folder'
  assert 'Reading test.npz as data.name=image_folder (by --data_name)' in caplog.text


def test_val_dir_takes_only_a_folder_or_an_arrays_file(tmp_path):
  from conftest import write_idx_folder, random_idx_split  # pylint: disable=g-import-not-at-top
  train = make_image_folder(tmp_path / 'train', per_class=4, size=8)
  idx = write_idx_folder(tmp_path / 'idx', random_idx_split(4, 0), random_idx_split(2, 1))
  config = base.get_config()
  config.data.name, config.data.dir, config.data.val_dir = 'image_folder', train, idx
  config.data.cache_dir = str(tmp_path / 'cache')
  with pytest.raises(UserError, match=r"data.val_dir=.*idx' is read as idx \(it holds idx "
                                      r"files.*takes an image folder or an arrays file"):
    input_pipeline.load_splits(config)
  config.data.val_dir = str(tmp_path / 'gone')
  with pytest.raises(UserError, match=r"data.val_dir=.*gone' does not exist"):
    input_pipeline.load_splits(config)
