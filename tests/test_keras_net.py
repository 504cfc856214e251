"""cnnlab.keras_net: every supported Keras layer and activation as Keras computes it.

One functional Keras model holds every layer type cnnlab.keras_import reads
and most activations, with options away from their defaults (dilation,
groups, 'same' and overlapping pooling, cropping, ReLU's threshold and cap);
read from its .keras file, cnnlab's logits through a softmax equal Keras'
output within 1e-5.
"""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab import keras_import
from cnnlab import keras_net
from cnnlab import models
from cnnlab.core.errors import UserError

keras = pytest.importorskip('keras')
from keras import layers  # pylint: disable=g-import-not-at-top,wrong-import-position

SHAPE = (16, 16, 4)


def every_layer_model():
  keras.utils.set_random_seed(2)
  inputs = keras.Input(SHAPE, name='pixels')
  x = layers.Rescaling(2.0, offset=-1.0)(inputs)
  x = layers.Conv2D(6, 3, dilation_rate=2, padding='same', activation='selu')(x)
  x = layers.Conv2D(6, 3, groups=2, padding='same', activation='gelu')(x)
  x = layers.BatchNormalization(center=False, momentum=0.9, name='bn')(x)
  x = layers.Cropping2D(((1, 0), (0, 1)))(x)
  x = layers.ZeroPadding2D(((0, 1), (1, 0)))(x)
  x = layers.SpatialDropout2D(0.2)(x)
  a = layers.Conv2D(4, 1, activation='swish')(x)
  b = layers.Conv2D(4, 1, strides=1, activation='elu', use_bias=False)(x)
  merged = [layers.Subtract()([a, b]), layers.Multiply()([a, b]), layers.Maximum()([a, b]),
            layers.Minimum()([a, b]), layers.Average()([a, b]), layers.Add()([a, b])]
  x = layers.Concatenate()(merged)
  x = layers.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.05)(x)
  x = layers.MaxPooling2D(2)(x)
  x = layers.AveragePooling2D(3, strides=2)(x)
  x = layers.LeakyReLU(negative_slope=0.2)(x)
  x = layers.Activation('tanh')(x)
  x = layers.Concatenate()([layers.Flatten()(layers.GlobalMaxPooling2D(keepdims=True)(x)),
                            layers.GlobalAveragePooling2D()(x)])
  x = layers.Dense(8, activation='softplus')(x)
  x = layers.Dense(8, activation='softsign')(x)
  x = layers.Dense(8, activation='relu6')(x)
  x = layers.Dropout(0.3)(x)
  x = layers.Dense(3, name='head')(x)
  outputs = layers.Softmax()(x)
  model = keras.Model(inputs, outputs)
  bn = model.get_layer('bn')
  rng = np.random.default_rng(0)
  gamma, mean, var = bn.get_weights()
  bn.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, mean.shape),
                  rng.uniform(0.5, 2.0, var.shape)])
  return model


@pytest.fixture(scope='module')
def every_layer(tmp_path_factory):
  model = every_layer_model()
  path = str(tmp_path_factory.mktemp('every') / 'every.keras')
  model.save(path)
  read = keras_import.read_model(path)
  variables = {k: v for k, v in keras_import.flax_variables(read.weights).items() if v}
  return model, read, variables


def _images(n=6):
  return np.random.default_rng(1).integers(0, 256, (n,) + SHAPE).astype(np.uint8)


def test_every_supported_layer_type_is_in_the_model(every_layer):
  _, read, _ = every_layer
  assert {layer['type'] for layer in read.layers} == set(keras_net.LAYER_TYPES)
  assert set(keras_import.SUPPORTED) == set(keras_net.LAYER_TYPES)


def test_outputs_equal_keras(every_layer):
  model, read, variables = every_layer
  images = _images()
  expected = model.predict(images.astype(np.float32) / 255.0, verbose=0)
  net = models.create_model('keras', 3, keras_layers=json.dumps(read.layers))
  logits = net.apply(variables, jnp.asarray(images, jnp.float32) / 255.0, train=False)
  assert np.abs(np.asarray(jax.nn.softmax(logits)) - expected).max() < 1e-5


def test_new_head_and_frozen_batchnorm(every_layer):
  _, read, variables = every_layer
  x = jnp.asarray(_images(2), jnp.float32) / 255.0
  net = keras_net.KerasNet(json.dumps(read.layers), num_classes=5)
  shapes = jax.eval_shape(lambda: net.init(jax.random.key(0), x, train=False))
  assert shapes['params']['head']['kernel'].shape == (8, 5)  # only the head changes
  assert shapes['params']['bn']['scale'].shape == variables['params']['bn']['scale'].shape
  rngs = {'dropout': jax.random.key(0)}
  for frozen, keeps in (('^bn$', True), ('', False)):
    net = keras_net.KerasNet(json.dumps(read.layers), num_classes=3, frozen_batchnorm=frozen)
    _, updates = net.apply(variables, x, train=True, rngs=rngs, mutable=['batch_stats'])
    same = np.array_equal(updates['batch_stats']['bn']['mean'],
                          variables['batch_stats']['bn']['mean'])
    assert same == keeps


def test_layer_lists_it_refuses():
  with pytest.raises(UserError, match='needs config.model.keras_layers'):
    models.create_model('keras', 3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
  with pytest.raises(UserError, match=r"layer types \['LSTM'\]"):
    keras_net.parse_layers(json.dumps([{'name': 'x', 'type': 'LSTM', 'inputs': []}]))
  with pytest.raises(UserError, match="model.preprocess='bgr'"):
    keras_net.preprocess(jnp.zeros((1, 2, 2, 3)), 'bgr')
