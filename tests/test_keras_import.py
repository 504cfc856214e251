"""cnnlab.keras_import and the cnnlab.import_keras command against real Keras models.

Keras 3 (installed with TensorFlow) builds the models with random weights
(BatchNorm statistics too) and saves them as .h5 and .keras; the Keras 2
layout is written from the same model by keras2_h5 below (Keras 2 is not
installed here): model_config with Keras 2's node lists and
batch_input_shape, weights at /model_weights/<layer>/<layer>/<name>:0.
cnnlab's probabilities, from the workdir the importer writes, must equal
Keras' predict on the same images within 1e-5.
"""
import copy
import json
import os

import numpy as np
import pytest

from cnnlab import import_keras
from cnnlab import inference
from cnnlab import keras_import
from cnnlab import predict
from cnnlab.core.errors import UserError
from conftest import make_image_folder, run_module

keras = pytest.importorskip('keras')
h5py = pytest.importorskip('h5py')
from keras import layers  # pylint: disable=g-import-not-at-top,wrong-import-position

CLASSES = ('cat', 'dog', 'frog')  # conftest.make_image_folder's
SHAPE = (16, 16, 3)
TOLERANCE = 1e-5  # probabilities, float32


def _randomize_batchnorm(model, seed=0):
  """Moving statistics, scales and offsets away from 0/1, so their mapping is tested."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, layers.BatchNormalization):
      gamma, beta, mean, var = layer.get_weights()
      layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                         rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
  return model


def sequential_cnn():
  """A seed-style Sequential CNN: conv, BN, pool, dropout, dense."""
  keras.utils.set_random_seed(0)
  return _randomize_batchnorm(keras.Sequential([
      keras.Input(SHAPE),
      layers.Conv2D(8, 3, padding='same', activation='relu', name='conv_a'),
      layers.BatchNormalization(name='bn'),
      layers.Conv2D(8, 3, activation='relu', name='conv_b'),  # 'valid'
      layers.MaxPooling2D(name='pool'),
      layers.Dropout(0.25, name='drop_a'),
      layers.Flatten(name='flatten'),
      layers.Dense(16, activation='relu', name='fc'),
      layers.Dropout(0.5, name='drop_b'),
      layers.Dense(len(CLASSES), activation='softmax', name='head'),
  ]))


def functional_chain():
  """A small functional ResNet-style chain: padding, strides, residual Add, pooling kinds."""
  keras.utils.set_random_seed(1)
  inputs = keras.Input(SHAPE)
  x = layers.Rescaling(2.0, offset=-1.0)(inputs)
  x = layers.ZeroPadding2D(1)(x)
  x = layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
  x = layers.BatchNormalization(epsilon=1.001e-5)(x)
  x = layers.ReLU()(x)
  y = layers.Conv2D(8, 3, padding='same')(x)
  y = layers.BatchNormalization()(y)
  y = layers.Activation('relu')(y)
  y = layers.Conv2D(8, 1)(y)
  x = layers.Activation('relu')(layers.Add()([x, y]))
  x = layers.MaxPooling2D(3, strides=2, padding='same')(x)
  x = layers.AveragePooling2D(2, strides=1, padding='same')(x)
  x = layers.LeakyReLU(negative_slope=0.1)(x)
  x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x),
                            layers.GlobalMaxPooling2D()(x)])
  x = layers.Dense(len(CLASSES))(x)
  outputs = layers.Activation('softmax')(x)
  return _randomize_batchnorm(keras.Model(inputs, outputs))


MODELS = {'sequential': sequential_cnn, 'functional': functional_chain}


def _keras2_node(node):
  """A Keras 3 inbound node as Keras 2 wrote it: [[name, 0, 0, {}], ...]."""
  found = []

  def walk(obj):
    if isinstance(obj, dict):
      history = (obj.get('config') or {}).get('keras_history') if isinstance(
          obj.get('config'), dict) else None
      if history:
        found.append([history[0], history[1], history[2], {}])
      else:
        for value in obj.values():
          walk(value)
    elif isinstance(obj, list):
      for value in obj:
        walk(value)

  walk(node['args'])
  return found


def keras2_h5(keras3_h5, path):
  """The Keras 3 legacy .h5 at keras3_h5 rewritten in Keras 2's layout at path."""
  with h5py.File(keras3_h5, 'r') as source:
    config = json.loads(source.attrs['model_config'])
    weights = keras_import.legacy_weights(source['model_weights'])
  config = copy.deepcopy(config)
  for entry in config['config']['layers']:
    entry.pop('module', None)
    entry.pop('registered_name', None)
    layer_config = entry['config']
    if 'batch_shape' in layer_config:
      layer_config['batch_input_shape'] = layer_config.pop('batch_shape')
    layer_config['dtype'] = 'float32'
    if 'inbound_nodes' in entry:
      entry['inbound_nodes'] = [_keras2_node(n) for n in entry['inbound_nodes']]
  if config['class_name'] == 'Functional':
    for key in ('input_layers', 'output_layers'):
      value = config['config'][key]
      config['config'][key] = [value] if isinstance(value[0], str) else value
  with h5py.File(path, 'w') as f:
    f.attrs['keras_version'] = b'2.15.0'
    f.attrs['backend'] = b'tensorflow'
    f.attrs['model_config'] = json.dumps(config).encode('utf8')
    group = f.create_group('model_weights')
    group.attrs['layer_names'] = [n.encode('utf8') for n in weights]
    for layer, stored in weights.items():
      names = [f'{layer}/{keras_import._short(n)}:0' for n, _ in stored]  # pylint: disable=protected-access
      group.create_group(layer).attrs['weight_names'] = [n.encode('utf8') for n in names]
      for name, (_, array) in zip(names, stored):
        group[layer].create_dataset(name, data=array)
  return str(path)


def unnamed_keras(path, out):
  """The .keras at path without the layer names older Keras 3 did not write into its weights."""
  import io  # pylint: disable=g-import-not-at-top
  import zipfile  # pylint: disable=g-import-not-at-top
  with zipfile.ZipFile(path) as source:
    files = {n: source.read(n) for n in source.namelist()}
  buffer = io.BytesIO(files['model.weights.h5'])
  with h5py.File(buffer, 'a') as f:
    f.visititems(lambda name, obj: obj.attrs.__delitem__('name') if 'name' in obj.attrs else None)
  files['model.weights.h5'] = buffer.getvalue()
  with zipfile.ZipFile(out, 'w') as target:
    for name, data in files.items():
      target.writestr(name, data)
  return str(out)


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
  """{(model, format): path} with each model saved as .h5, .keras and Keras 2 .h5; the models."""
  tmp = tmp_path_factory.mktemp('keras_models')
  paths, models = {}, {}
  for name, build in MODELS.items():
    model = models[name] = build()
    paths[name, 'h5'] = str(tmp / f'{name}.h5')
    model.save(paths[name, 'h5'])
    paths[name, 'keras'] = str(tmp / f'{name}.keras')
    model.save(paths[name, 'keras'])
    paths[name, 'keras2_h5'] = keras2_h5(paths[name, 'h5'], tmp / f'{name}_keras2.h5')
    paths[name, 'keras_unnamed'] = unnamed_keras(paths[name, 'keras'], tmp / f'{name}_u.keras')
  return {'paths': paths, 'models': models, 'tmp': tmp}


def _images(n=24, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n,) + SHAPE).astype(np.uint8)


def _base_config():
  import ml_collections  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  assert isinstance(config, ml_collections.ConfigDict)
  return config


@pytest.mark.parametrize('fmt', ['h5', 'keras'])
@pytest.mark.parametrize('name', sorted(MODELS))
def test_imported_predictions_equal_keras(saved, tmp_path, name, fmt):
  workdir = str(tmp_path / 'imported')
  meta = import_keras.import_model(saved['paths'][name, fmt], workdir, _base_config(),
                                   class_names=CLASSES)
  assert meta['keras']['format'] == fmt and meta['keras']['keras_version'] == keras.__version__
  model = saved['models'][name]
  assert meta['keras']['params'] + meta['keras']['batch_stats'] == model.count_params()
  images = _images()
  expected = model.predict(images.astype(np.float32) / 255.0, verbose=0)
  run = inference.load_run(workdir)
  assert run.class_names == list(CLASSES) and run.meta['model'] == 'keras'
  probabilities = predict.predict_probabilities(run, images)
  assert np.abs(probabilities - expected).max() < TOLERANCE
  np.testing.assert_array_equal(probabilities.argmax(1), expected.argmax(1))


@pytest.mark.parametrize('fmt', ['keras2_h5', 'keras_unnamed'])
@pytest.mark.parametrize('name', sorted(MODELS))
def test_other_layouts_read_the_same(saved, name, fmt):
  """Keras 2's .h5 and an older Keras 3 .keras give the layers and weights the .h5 gives."""
  reference = keras_import.read_model(saved['paths'][name, 'h5'])
  other = keras_import.read_model(saved['paths'][name, fmt])
  assert other.keras_version == ('2.15.0' if fmt == 'keras2_h5' else keras.__version__)
  assert other.layers == reference.layers
  assert other.weights.keys() == reference.weights.keys()
  for layer, named in reference.weights.items():
    assert other.weights[layer].keys() == named.keys()
    for key, value in named.items():
      np.testing.assert_array_equal(other.weights[layer][key], value)
  # The weights are the model's, each where Keras has it.
  model = saved['models'][name]
  for layer in model.layers:
    if layer.weights:
      np.testing.assert_array_equal(other.weights[layer.name]['kernel' if hasattr(
          layer, 'kernel') else 'moving_variance'], (layer.kernel if hasattr(
              layer, 'kernel') else layer.moving_variance).numpy())


def test_the_workdir_describes_its_network(saved, tmp_path):
  workdir = str(tmp_path / 'imported')
  meta = import_keras.import_model(saved['paths']['functional', 'keras'], workdir,
                                   _base_config())
  layers_ = json.loads(meta['config']['model']['keras_layers'])
  assert layers_[0]['type'] == 'InputLayer' and layers_[0]['shape'] == list(SHAPE)
  assert layers_[-1]['type'] == 'Activation' and meta['keras']['head'] == layers_[-2]['name']
  add = next(layer for layer in layers_ if layer['type'] == 'Add')
  assert len(add['inputs']) == 2  # the residual connection
  assert meta['class_names'] == ['0', '1', '2'] and meta['config']['model']['preprocess'] == 'unit'
  with pytest.raises(UserError, match='already holds a run'):
    import_keras.import_model(saved['paths']['functional', 'keras'], workdir, _base_config())
  from cnnlab import evaluate  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match='imported from a Keras file; evaluate with --data_dir'):
    evaluate.load_eval_data(inference.load_run(workdir), '', '', 'test', 0)


def test_command_then_evaluate_equals_keras_evaluate(saved, tmp_path):
  """The import and evaluate commands on a generated folder: Keras' accuracy and loss."""
  folder = make_image_folder(tmp_path / 'images', classes=CLASSES, per_class=10, size=16)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  images, labels = [], []
  for label, name in enumerate(CLASSES):
    for file in sorted(os.listdir(os.path.join(folder, name))):
      images.append(np.asarray(Image.open(os.path.join(folder, name, file)).convert('RGB')))
      labels.append(label)
  x, y = np.stack(images).astype(np.float32) / 255.0, np.array(labels)
  # Trained a little in Keras, so the accuracy to match is not chance.
  model = sequential_cnn()
  model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='sparse_categorical_crossentropy',
                metrics=['accuracy'])
  model.fit(x, y, epochs=30, batch_size=10, verbose=0)
  keras_loss, keras_accuracy = model.evaluate(x, y, verbose=0)
  path = str(tmp_path / 'trained.keras')
  model.save(path)

  workdir = str(tmp_path / 'imported')
  result = run_module('cnnlab.import_keras', f'--model={path}', f'--workdir={workdir}',
                      f'--class_names={",".join(CLASSES)}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'imported' in result.stdout and '3 classes (cat, dog, frog)' in result.stdout
  result = run_module('cnnlab.evaluate', f'--workdir={workdir}', f'--data_dir={folder}',
                      '--name=folder', env={'CNNLAB_CACHE': str(tmp_path / 'cache')})
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, 'eval_folder.json')) as f:
    evaluation = json.load(f)
  assert evaluation['count'] == 30
  # Keras reports a float32 mean: the same count of right answers out of 30.
  assert round(evaluation['accuracy'] * 30) == round(keras_accuracy * 30)
  assert evaluation['accuracy'] == pytest.approx(keras_accuracy, abs=1e-6)
  assert evaluation['loss'] == pytest.approx(keras_loss, rel=1e-4)
  assert 0.5 < keras_accuracy < 1  # learned, and not perfect: the equality is not trivial
  saved_predictions = np.load(os.path.join(workdir, 'eval_folder_predictions.npz'))
  probabilities = model.predict(x, verbose=0)
  assert np.abs(saved_predictions['probabilities'] - probabilities).max() < TOLERANCE
  assert os.path.exists(os.path.join(workdir, 'report', 'folder', 'per_class.md'))


def test_unsupported_layer_exits_2_naming_it(tmp_path):
  model = keras.Sequential([keras.Input(SHAPE), layers.Reshape((16, 48)), layers.LSTM(4),
                            layers.Dense(3, activation='softmax')])
  path = str(tmp_path / 'lstm.keras')
  model.save(path)
  result = run_module('cnnlab.import_keras', f'--model={path}',
                      f'--workdir={tmp_path / "never"}')
  assert result.returncode == 2, result.stderr[-3000:]
  message = result.stderr
  assert "'lstm' (LSTM)" in message and "'reshape' (Reshape)" in message
  for name in ('Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Add', 'Dense'):
    assert name in message  # the supported list
  assert 'Traceback' not in message
  assert not os.path.exists(tmp_path / 'never')


def test_lambda_and_unsupported_options_are_named(tmp_path):
  model = keras.Sequential([keras.Input(SHAPE), layers.Lambda(lambda t: t * 2),
                            layers.Conv2D(4, 3, activation='hard_sigmoid'),
                            layers.Flatten(), layers.Dense(3, activation='softmax')])
  path = str(tmp_path / 'lambda.h5')
  model.save(path)
  with pytest.raises(UserError) as e:
    keras_import.read_model(path)
  assert "'lambda' (Lambda)" in str(e.value)
  assert "activation 'hard_sigmoid'" in str(e.value)


def test_files_the_importer_refuses(saved, tmp_path):
  weights_only = str(tmp_path / 'w.h5')
  with h5py.File(weights_only, 'w') as f:
    f.attrs['layer_names'] = [b'dense']
  with pytest.raises(UserError, match='weights only'):
    keras_import.read_model(weights_only)
  with pytest.raises(UserError, match='no such file'):
    keras_import.read_model(str(tmp_path / 'missing.h5'))
  with pytest.raises(UserError, match='--class_names has 2 names; the model has 3'):
    import_keras.import_model(saved['paths']['sequential', 'h5'], str(tmp_path / 'w'),
                              _base_config(), class_names=['a', 'b'])
  sigmoid = keras.Sequential([keras.Input(SHAPE), layers.Flatten(),
                              layers.Dense(3, activation='sigmoid')])
  sigmoid.save(str(tmp_path / 'sigmoid.keras'))
  with pytest.raises(UserError, match="ends in 'sigmoid'"):
    import_keras.import_model(str(tmp_path / 'sigmoid.keras'), str(tmp_path / 'w2'),
                              _base_config())


def test_finetune_from_the_imported_workdir(saved, tmp_path):
  """configs/keras.py: the imported layers and weights; a new 2-class head starts afresh."""
  from configs import keras as keras_config  # pylint: disable=g-import-not-at-top
  from cnnlab import train  # pylint: disable=g-import-not-at-top
  imported = str(tmp_path / 'imported')
  import_keras.import_model(saved['paths']['sequential', 'h5'], imported, _base_config())
  folder = make_image_folder(tmp_path / 'two', classes=('cat', 'dog'), per_class=8, size=16)
  config = keras_config.get_config(imported)
  config.data.dir = folder
  config.data.cache_dir = str(tmp_path / 'cache')
  config.data.val_fraction = 0.25
  config.batch_size = 4
  config.eval_batch_size = 4
  config.num_epochs = 1
  config.report = False
  config.freeze = '^conv_a/'
  workdir = str(tmp_path / 'ft')
  train.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'init_from.json')) as f:
    report = json.load(f)
  head = [n for n in report['params']['reinitialised']]
  assert head == ['head/bias', 'head/kernel']  # 3 -> 2 classes
  assert 'conv_a/kernel' in report['params']['loaded']
  assert 'bn/mean' in report['batch_stats']['loaded']
  source, tuned = inference.load_run(imported), inference.load_run(workdir)
  np.testing.assert_array_equal(tuned.state.params['conv_a']['kernel'],
                                source.state.params['conv_a']['kernel'])  # frozen
  assert not np.array_equal(tuned.state.params['fc']['kernel'], source.state.params['fc']['kernel'])


def test_importing_needs_no_tensorflow(saved, tmp_path):
  """The reader and the import run without TensorFlow or Keras loaded (README: why)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from conftest import REPO  # pylint: disable=g-import-not-at-top
  code = ('import sys\n'
          'from cnnlab import import_keras\n'
          'from configs import base\n'
          f'import_keras.import_model({saved["paths"]["functional", "keras"]!r}, '
          f'{str(tmp_path / "w")!r}, base.get_config())\n'
          'print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=240)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().splitlines()[-1] == '[]'
