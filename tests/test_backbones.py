"""cnnlab.backbones against keras.applications: layer names, weight files, preprocessing, freezing.

keras.applications.VGG16 and ResNet50 are built with weights=None (random
weights; ResNet50's BatchNorm statistics randomized too) and saved in the
notop file format (the layout of the *_notop.h5 files keras.applications
downloads; Keras itself loads them back); cnnlab loads them by layer name
(model.backbone_weights) and its base's features must equal Keras' on the
same images within 1e-4.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab import augment
from cnnlab import backbones
from cnnlab import keras_net
from cnnlab import models
from cnnlab import optimizers
from cnnlab import steps
from cnnlab.core.errors import UserError

keras = pytest.importorskip('keras')
h5py = pytest.importorskip('h5py')
from keras.src.applications import imagenet_utils  # pylint: disable=g-import-not-at-top,wrong-import-position
from keras.src.legacy.saving import legacy_h5_format  # pylint: disable=g-import-not-at-top,wrong-import-position

SHAPE = (32, 32, 3)  # the smallest input Keras' VGG16 and ResNets take without their top
FEATURE_TOLERANCE = 1e-4


def write_notop_keras1(path, model):
  """`model`'s weights as the oldest notop files name them ('block1_conv1_W_1:0', ...)."""
  with h5py.File(path, 'w') as f:
    f.attrs['layer_names'] = [layer.name.encode('utf8') for layer in model.layers]
    f.attrs['backend'] = b'tensorflow'
    f.attrs['keras_version'] = b'2.2.4'
    for layer in model.layers:
      group = f.create_group(layer.name)
      names = [f'{layer.name}_{suffix}_1:0' for suffix in 'Wb'[:len(layer.weights)]]
      group.attrs['weight_names'] = [n.encode('utf8') for n in names]
      for name, weight in zip(names, layer.weights):
        group.create_dataset(name, data=weight.numpy())
  return str(path)


def write_notop(path, model):
  """`model`'s weights in Keras' own legacy h5 writer's layout (what model.load_weights reads)."""
  with h5py.File(path, 'w') as f:
    legacy_h5_format.save_weights_to_hdf5_group(f, model)
  return str(path)


@pytest.fixture(scope='module')
def notop(tmp_path_factory):
  """{name: (keras base, notop file)} for vgg16 and resnet50."""
  tmp = tmp_path_factory.mktemp('notop')
  rng = np.random.default_rng(0)
  vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=SHAPE)
  resnet = keras.applications.ResNet50(weights=None, include_top=False, input_shape=SHAPE)
  values = []
  for weight in resnet.weights:  # BatchNorm away from its identity initialisation
    value = weight.numpy()
    if weight.path.endswith('moving_variance'):
      value = rng.uniform(0.5, 2.0, value.shape)
    elif weight.path.endswith(('gamma', 'beta', 'moving_mean')):
      value = rng.normal(1.0 if weight.path.endswith('gamma') else 0.0, 0.2, value.shape)
    values.append(value.astype(np.float32))
  resnet.set_weights(values)
  return {'vgg16': (vgg, write_notop_keras1(tmp / 'vgg16_notop.h5', vgg)),
          'resnet50': (resnet, write_notop(tmp / 'resnet50_notop.h5', resnet))}


def _images(n=3, shape=SHAPE, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n,) + shape).astype(np.uint8)


def _features(model, variables, images):
  """The output of model's 'backbone' module on uint8 images (through x / 255)."""
  x = jnp.asarray(images, jnp.float32) / 255.0
  _, state = model.apply(variables, x, train=False,
                         capture_intermediates=lambda module, _: module.name == 'backbone')
  return np.asarray(state['intermediates']['backbone']['__call__'][0])


@pytest.mark.parametrize('name,keras_fn', [('vgg16', 'VGG16'), ('resnet50', 'ResNet50')])
def test_features_equal_keras_with_its_weights_file(notop, name, keras_fn):
  base, path = notop[name]
  # Keras reads the file back as it reads the files it downloads (by topological order).
  reread = getattr(keras.applications, keras_fn)(weights=path, include_top=False,
                                                  input_shape=SHAPE)
  for a, b in zip(base.weights, reread.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  model = models.create_model(name, 5, backbone_weights=path)
  variables = model.init(jax.random.key(0), jnp.zeros((1,) + SHAPE), train=False)
  params, batch_stats = model.load_pretrained(variables['params'],
                                              variables.get('batch_stats', {}))
  loaded = {'params': params, **({'batch_stats': batch_stats} if batch_stats else {})}
  images = _images()
  # Keras' own preprocess_input ('caffe' for both) on the same pixels.
  expected = base.predict(imagenet_utils.preprocess_input(images.astype(np.float32),
                                                          mode='caffe'), verbose=0)
  features = _features(model, loaded, images)
  assert features.shape == expected.shape == (3, 1, 1, 512 if name == 'vgg16' else 2048)
  assert np.abs(features - expected).max() < FEATURE_TOLERANCE
  # Every weight came from the file, under Keras' layer name.
  for layer in base.layers:
    if layer.weights:
      np.testing.assert_array_equal(params['backbone'][layer.name]['kernel' if hasattr(
          layer, 'kernel') else 'scale'], (layer.kernel if hasattr(layer, 'kernel')
                                           else layer.gamma).numpy())


def test_training_start_loads_the_weights_file(notop):
  """steps.fit_model (run when training starts, before init_from) reads backbone_weights."""
  base, path = notop['vgg16']
  model = models.create_model('vgg16', 5, backbone_weights=path, head_widths=(8,))
  tx = optimizers.create_optimizer(_config(), 1, 1)
  state = steps.create_train_state(jax.random.key(0), model, SHAPE, tx)
  state = steps.fit_model(state, model, _images(), augment.create_pipeline(''), 0)
  np.testing.assert_array_equal(state.params['backbone']['block5_conv3']['kernel'],
                                base.get_layer('block5_conv3').kernel.numpy())
  assert set(state.params) == {'backbone', 'fc1', 'predictions'}


@pytest.mark.parametrize('mode', ['caffe', 'torch', 'tf'])
def test_preprocess_equals_keras_preprocess_input(mode):
  images = _images(2)
  expected = imagenet_utils.preprocess_input(images.astype(np.float32), mode=mode)
  got = keras_net.preprocess(jnp.asarray(images, jnp.float32) / 255.0, mode)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_gray_28_is_padded_to_32_and_repeated_as_seed_003_does():
  images = _images(2, (28, 28, 1))
  x = jnp.asarray(images, jnp.float32) / 255.0
  got = np.asarray(backbones.fit_input(x, 32, 'pad'))
  # Seed 003: tf.pad(x, [[0, 0], [2, 2], [2, 2]]), expand_dims, tf.repeat(x, 3, axis=3).
  expected = np.repeat(np.pad(np.asarray(x), ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=3)
  np.testing.assert_array_equal(got, expected)
  assert backbones.fit_input(x, 40, 'bilinear').shape == (2, 40, 40, 3)
  with pytest.raises(UserError, match='do not fit model.input_size=16'):
    backbones.fit_input(x, 16, 'pad')
  model = models.create_model('vgg16', 5, input_size=32)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
  assert shapes['params']['backbone']['block1_conv1']['kernel'].shape == (3, 3, 3, 64)


def _config(**fields):
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.optimizer.name = 'adam'
  config.optimizer.lr = 1e-2
  for key, value in fields.items():
    setattr(config, key, value)
  return config


def _tree_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                                  jax.tree_util.tree_leaves(b)))


@pytest.mark.parametrize('frozen_batchnorm', ['', '^backbone/'])
def test_frozen_backbone_step_changes_only_the_head(monkeypatch, frozen_batchnorm):
  """config.freeze='^backbone/': one train step moves the head only.

  With model.frozen_batchnorm='^backbone/' (Keras' trainable=False) the
  backbone's BatchNorm statistics stay as they were and training normalises
  with them; without it (cnnlab's default) they still update.
  """
  # ResNet50's code with one block per stage: the same layers, a quicker compile.
  monkeypatch.setitem(backbones.BACKBONES, 'resnet_1111',
                      (functools.partial(backbones.ResNetV1, (1, 1, 1, 1)), 'caffe'))
  model = backbones.Transfer(backbone='resnet_1111', num_classes=3, head_widths=(8,),
                             frozen_batchnorm=frozen_batchnorm)
  config = _config(freeze='^backbone/')
  tx = optimizers.create_optimizer(config, 1, 10, frozen=models.frozen_params(model))
  state = steps.create_train_state(jax.random.key(0), model, SHAPE, tx)
  batch = {'image': jnp.asarray(_images(4)), 'label': jnp.asarray([0, 1, 2, 0])}
  new, _ = jax.jit(functools.partial(steps.train_step, pipeline=augment.create_pipeline('')))(
      state, batch, jax.random.key(1))
  assert _tree_equal(new.params['backbone'], state.params['backbone'])
  for head in ('fc1', 'predictions'):
    assert not np.array_equal(new.params[head]['kernel'], state.params[head]['kernel'])
  assert _tree_equal(new.batch_stats, state.batch_stats) == bool(frozen_batchnorm)
  x = jnp.asarray(_images(2), jnp.float32) / 255.0
  variables = steps.variables_of(state)
  trained, _ = model.apply(variables, x, train=True, mutable=['batch_stats'])
  inferred = model.apply(variables, x, train=False)
  # Frozen BatchNorm normalises with the moving statistics in training too.
  assert np.array_equal(trained, inferred) == bool(frozen_batchnorm)


def test_weights_file_errors(notop, tmp_path, monkeypatch):
  with pytest.raises(UserError) as e:
    backbones.weights_path('resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5', 'resnet50')
  message = str(e.value)
  assert 'Nothing downloads here' in message and '.keras/models' in message
  assert backbones.NOTOP_URLS['resnet50'] in message
  # A bare name is found where keras.applications downloads it.
  monkeypatch.setenv('HOME', str(tmp_path))
  cache = tmp_path / '.keras' / 'models'
  cache.mkdir(parents=True)
  (cache / 'vgg16_notop.h5').write_bytes(open(notop['vgg16'][1], 'rb').read())
  assert backbones.weights_path('vgg16_notop.h5', 'vgg16') == str(cache / 'vgg16_notop.h5')
  # Another network's file is refused, not loaded in part.
  model = models.create_model('resnet50', 5)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1,) + SHAPE),
                                             train=False))
  with pytest.raises(UserError, match="does not hold this backbone's layers"):
    backbones.load_backbone(notop['vgg16'][1], shapes['params']['backbone'],
                            shapes['batch_stats']['backbone'])


@pytest.mark.parametrize('name,total,trainable', [
    # Keras' summary of seed 003's models: the frozen base is non-trainable.
    ('seed003_transfer_resnet', 60_424_949, 2_054_005),  # ResNet152 + 2048-1000-5
    ('seed003_transfer_vgg', 33_617_733, 18_903_045),    # VGG16 + 512-4096-4096-5
])
def test_seed003_transfer_configs(name, total, trainable):
  import importlib  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.seeds.{name}').get_config()
  model = models.from_config(config.model, 5)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)),
                                             train=False))
  assert sum(x.size for x in jax.tree_util.tree_leaves(shapes)) == total
  frozen = re.compile(config.freeze)
  assert sum(leaf.size for path, leaf in jax.tree_util.tree_leaves_with_path(shapes['params'])
             if not frozen.search(optimizers.path_name(path))) == trainable
  assert config.model.frozen_batchnorm == config.freeze == '^backbone/'
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.eps) == ('adam', 1e-3, 1e-7)
  assert (config.batch_size, config.num_epochs, config.model.input_size) == (128, 100, 32)
