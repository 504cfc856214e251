"""predict: original labels out (1..5 in, 1..5 out), one row per input, ids, TTA."""
import csv
import os

import numpy as np
import pytest
from PIL import Image

from cnnlab import input_pipeline
from cnnlab import predict
from conftest import ARRAY_LABELS as LABELS  # seed 003's labels: the model sees 0..4
from conftest import label_images as _images
from conftest import run_module


@pytest.fixture(scope='module')
def run(arrays_run):
  """conftest's run trained on an arrays file with labels 1..5 (shared with test_evaluate)."""
  return arrays_run


def _read(path):
  with open(path, newline='') as f:
    return list(csv.reader(f))


def test_csv_has_original_labels_one_row_per_input(run):
  out = str(run['tmp'] / 'submission.csv')
  result = run_module('cnnlab.predict', f'--workdir={run["workdir"]}',
                      f'--input={run["tmp"] / "test.npz"}', f'--output={out}',
                      '--probabilities', '--tta=flip')
  assert result.returncode == 0, result.stderr[-3000:]
  rows = _read(out)
  assert rows[0] == ['id', 'label', '1', '2', '3', '4', '5']
  body = rows[1:]
  assert len(body) == 20
  assert [int(r[0]) for r in body] == list(run['ids'])  # the file's ids, in its order
  predicted = np.array([int(r[1]) for r in body])
  assert set(predicted) <= set(LABELS)
  # The mapping round-trips: predictions agree with the original labels 1..5
  # (an off-by-one mapping would score about 0).
  assert np.mean(predicted == run['test_labels']) >= 0.8
  probabilities = np.array([[float(p) for p in r[2:]] for r in body])
  np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-4)
  np.testing.assert_array_equal(np.array(LABELS)[probabilities.argmax(1)], predicted)
  assert '20 predictions' in result.stdout


def test_folder_ids_are_file_names_sorted_numerically(run, tmp_path):
  folder = tmp_path / 'unlabelled'
  os.makedirs(folder)
  rng = np.random.default_rng(1)
  truth = {17: 5, 3: 1, 120: 3}
  for id_, label in truth.items():
    Image.fromarray(_images([label], rng)[0]).save(folder / f'{id_}.png')
  loaded = run['loaded']
  images, ids = predict.load_inputs(str(folder), loaded.meta['image_shape'], loaded.config.data)
  assert ids == [3, 17, 120] and images.shape == (3, 8, 8, 1)
  probabilities = predict.predict_probabilities(loaded, images)
  out = str(tmp_path / 'sub.csv')
  assert predict.write_csv(out, ids, loaded.meta['label_values'], probabilities) == 3
  rows = _read(out)
  assert rows[0] == ['id', 'label'] and [r[0] for r in rows[1:]] == ['3', '17', '120']
  assert [int(r[1]) for r in rows[1:]] == [truth[i] for i in ids]


def test_repeated_file_names_keep_relative_paths(tmp_path):
  for sub in ('a', 'b'):
    os.makedirs(tmp_path / sub)
    Image.new('L', (8, 8)).save(tmp_path / sub / '1.png')
  _, ids = input_pipeline.list_images(str(tmp_path))
  assert ids == ['a/1.png', 'b/1.png']


def test_bad_inputs_are_explained(run, tmp_path):
  from cnnlab.core.errors import UserError  # pylint: disable=g-import-not-at-top
  loaded = run['loaded']
  shape, data = loaded.meta['image_shape'], loaded.config.data
  np.savez(tmp_path / 'wrong.npz', images=np.zeros((2, 16, 16), np.uint8))
  with pytest.raises(UserError, match='model takes'):
    predict.load_inputs(str(tmp_path / 'wrong.npz'), shape, data)
  np.savez(tmp_path / 'ids.npz', images=np.zeros((2, 8, 8), np.uint8), id=[1, 2, 3])
  with pytest.raises(UserError, match='3 ids'):
    predict.load_inputs(str(tmp_path / 'ids.npz'), shape, data)
  with pytest.raises(UserError, match='neither'):
    predict.load_inputs(str(tmp_path / 'x.csv'), shape, data)
  # A bare .npy of images is accepted; ids are the row numbers.
  np.save(tmp_path / 'bare.npy', np.zeros((4, 8, 8), np.uint8))
  images, ids = predict.load_inputs(str(tmp_path / 'bare.npy'), shape, data)
  assert images.shape == (4, 8, 8, 1) and ids == [0, 1, 2, 3]


def test_kaggle_target_column_without_tta_and_float_labels_as_integers(run, tmp_path):
  out = str(tmp_path / 'kaggle.csv')
  result = run_module('cnnlab.predict', f'--workdir={run["workdir"]}',
                      f'--input={run["tmp"] / "test.npz"}', f'--output={out}',
                      '--label_column=target')
  assert result.returncode == 0, result.stderr[-3000:]
  rows = _read(out)
  assert rows[0] == ['id', 'target'] and len(rows) == 21
  assert {r[1] for r in rows[1:]} <= {'1', '2', '3', '4', '5'}
  # Seed 003's labels are floats 1.0..5.0 in its .npy: written as integers.
  path = str(tmp_path / 'floats.csv')
  probabilities = np.eye(5)[[4, 0, 2]]
  predict.write_csv(path, [7, 8, 9], [1.0, 2.0, 3.0, 4.0, 5.0], probabilities,
                    with_probabilities=True, label_column='target')
  assert _read(path) == [['id', 'target', '1', '2', '3', '4', '5'],
                         ['7', '5', '0.000000', '0.000000', '0.000000', '0.000000', '1.000000'],
                         ['8', '1', '1.000000', '0.000000', '0.000000', '0.000000', '0.000000'],
                         ['9', '3', '0.000000', '0.000000', '1.000000', '0.000000', '0.000000']]
  assert predict.label_text(2.5) == '2.5' and predict.label_text('cat') == 'cat'


def _class_folder(root, rng, size=8, mode='L', ext='png'):
  """<root>/<label>/<k>.<ext> for the labels 1..5, image k of label v bright as v says."""
  for k, label in enumerate(np.repeat(LABELS, 2)):
    os.makedirs(root / str(label), exist_ok=True)
    image = Image.fromarray(_images([label], rng)[0]).resize((size, size))
    image.convert(mode).save(root / str(label) / f'{k}.{ext}')
  return root


def _training_data(data_config, path, name, **kw):
  config = data_config.copy_and_resolve_references()
  config.name, config.dir = name, str(path)
  for key, value in kw.items():
    config[key] = value
  return input_pipeline.load_dataset(config)


def test_predict_reads_the_pixels_the_training_sources_decode(run, tmp_path):
  loaded = run['loaded']
  shape, data = loaded.meta['image_shape'], loaded.config.data
  # RGB JPEGs of 16x16: resized to the model's 8x8 and made gray as training does.
  folder = _class_folder(tmp_path / 'jpegs', np.random.default_rng(4), size=16, mode='RGB',
                         ext='jpg')
  trained = _training_data(data, folder, 'image_folder', image_size=8, channels=1,
                           cache_dir=str(tmp_path / 'cache'))
  images, ids = predict.load_inputs(str(folder), shape, data)
  assert ids == list(range(10)) and images.shape == (10, 8, 8, 1)
  stem = {int(os.path.splitext(os.path.basename(i))[0]): k for k, i in enumerate(trained.ids)}
  np.testing.assert_array_equal(images, trained.images[[stem[i] for i in ids]])
  # An arrays file: the same images as the arrays source gives training.
  rng = np.random.default_rng(5)
  np.savez(tmp_path / 'rows.npz', features=_images(LABELS, rng).reshape(5, 64) / 255.0,
           target=np.array(LABELS), id=np.array(['e', 'd', 'c', 'b', 'a']))
  trained = _training_data(data, tmp_path / 'rows.npz', 'arrays')
  images, ids = predict.load_inputs(str(tmp_path / 'rows.npz'), shape, data)
  assert ids == ['e', 'd', 'c', 'b', 'a'] and all(type(i) is str for i in ids)
  np.testing.assert_array_equal(images, trained.images)


def test_predict_says_which_source_read_the_input(run, tmp_path):
  folder = _class_folder(tmp_path / 'pngs', np.random.default_rng(6))
  out = str(tmp_path / 'by_rule.csv')
  result = run_module('cnnlab.predict', f'--workdir={run["workdir"]}', f'--input={folder}',
                      f'--output={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert (f'Reading {folder} as data.name=image_folder (it is a folder without idx files or '
          'CIFAR batches; pass --data_name to choose)') in result.stderr
  assert [r[0] for r in _read(out)[1:]] == [str(k) for k in range(10)]
  path = run['tmp'] / 'test.npz'
  result = run_module('cnnlab.predict', f'--workdir={run["workdir"]}', f'--input={path}',
                      '--data_name=arrays', f'--output={tmp_path / "named.csv"}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Reading {path} as data.name=arrays (by --data_name)' in result.stderr
  result = run_module('cnnlab.predict', f'--workdir={run["workdir"]}',
                      f'--input={tmp_path / "nothing"}')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert 'cannot tell which source reads' in result.stderr
  assert '--data_name=<one of' in result.stderr
