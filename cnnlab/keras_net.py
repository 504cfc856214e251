"""A Flax network built from a Keras layer list: model 'keras' (see cnnlab.import_keras).

The layer list is what cnnlab.keras_import reads from a Keras file, kept as
JSON in `config.model.keras_layers` so a workdir describes its own network:
each entry is {'name', 'type' (the Keras class), 'inputs' (names of the
layers it takes), the layer's options}. Every layer keeps its Keras name as
its Flax name, so parameters are `conv2d/kernel`, `batch_normalization/scale`
and init_from, config.freeze and the importer's weights all match by it.

Semantics follow Keras layer for layer (padding, pooling windows, BatchNorm
epsilon and momentum, Keras' activations); `train` switches Dropout and
BatchNorm as Keras' `training` does. The model returns logits: a trailing
softmax (on the last Dense or a final Activation/Softmax layer) is left out,
cnnlab applies it. The output Dense gets `num_classes` units, so the same
list fine-tunes on another class count with a new head (init_from skips it).

Also here, shared with cnnlab.backbones: the input conventions
(`preprocess`), Keras' pooling and its activations.
"""
import functools
import json
import re
from typing import Any, Callable, Dict, List, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnlab.core.errors import UserError

# Keras' default initializers (weights normally come from the file; a new head
# starts as Keras would start it).
keras_kernel_init = nn.initializers.glorot_uniform()


def _leaky_relu(x, negative_slope=0.2):  # keras.activations.leaky_relu's default slope
  return jnp.where(x >= 0, x, negative_slope * x)


# keras.activations by the names Keras writes in a layer's config.
ACTIVATIONS: Dict[str, Callable[[jax.Array], jax.Array]] = {
    'linear': lambda x: x,
    'relu': nn.relu,
    'relu6': nn.relu6,
    'sigmoid': nn.sigmoid,
    'tanh': jnp.tanh,
    'softmax': nn.softmax,
    'elu': nn.elu,
    'selu': nn.selu,
    'gelu': functools.partial(nn.gelu, approximate=False),  # Keras' default is exact
    'swish': nn.swish,
    'silu': nn.swish,
    'softplus': nn.softplus,
    'softsign': nn.soft_sign,
    'exponential': jnp.exp,
    'leaky_relu': _leaky_relu,
}

# ImageNet statistics of keras.applications.imagenet_utils.preprocess_input.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def _caffe(x):
  x = x[..., ::-1] * 255.0  # RGB -> BGR, back to 0..255
  return x - jnp.asarray(CAFFE_MEAN_BGR, x.dtype)


# How a model's input is made from cnnlab's images, which the input pipeline
# hands over as x / 255 (float32 in [0, 1]). Keras' preprocess_input modes
# start from 0..255 pixels; each entry gives the same numbers from x / 255.
PREPROCESS: Dict[str, Callable[[jax.Array], jax.Array]] = {
    'unit': lambda x: x,  # x / 255: how the seed notebooks fed their Keras models
    'raw': lambda x: x * 255.0,  # 0..255 (a model that starts with its own Rescaling)
    'tf': lambda x: x * 2.0 - 1.0,  # [-1, 1]: preprocess_input mode 'tf' (MobileNet, Inception)
    'caffe': _caffe,  # BGR, ImageNet mean subtracted: mode 'caffe' (VGG16, ResNet50/101/152)
    'torch': lambda x: (x - jnp.asarray(TORCH_MEAN, x.dtype)) / jnp.asarray(TORCH_STD, x.dtype),
}


def preprocess(x: jax.Array, mode: str) -> jax.Array:
  """x (pixels / 255) in the convention `mode` (a PREPROCESS name)."""
  if mode not in PREPROCESS:
    raise UserError(f'model.preprocess={mode!r}: use one of {", ".join(PREPROCESS)}')
  return PREPROCESS[mode](x)


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
  if name not in ACTIVATIONS:
    raise UserError(f'activation {name!r} is not supported; supported: {", ".join(ACTIVATIONS)}')
  return ACTIVATIONS[name]


def _same_pads(size: int, window: int, stride: int):
  """TensorFlow's 'same' padding (before, after) of one spatial axis."""
  out = -(-size // stride)
  total = max((out - 1) * stride + window - size, 0)
  return total // 2, total - total // 2


def pool2d(x: jax.Array, kind: str, window: Sequence[int], strides: Sequence[int],
           padding: str) -> jax.Array:
  """Keras' MaxPooling2D / AveragePooling2D on NHWC.

  'same' average pooling divides by the inputs inside the image only, as
  Keras does. Non-overlapping 'valid' max pooling is crop + reshape + max
  (the trick of cnnlab.models.max_pool): the same values, but its gradient is
  a mask rather than XLA:CPU's slow select-and-scatter.
  """
  window, strides = tuple(window), tuple(strides)
  if kind == 'max' and padding == 'valid' and window == strides:
    b, h, w, c = x.shape
    (wh, ww), (ho, wo) = window, (h // window[0], w // window[1])
    x = x[:, :ho * wh, :wo * ww, :]
    return x.reshape(b, ho, wh, wo, ww, c).max(axis=(2, 4))
  pads = 'VALID'
  if padding == 'same':
    pads = [_same_pads(x.shape[1], window[0], strides[0]),
            _same_pads(x.shape[2], window[1], strides[1])]
  if kind == 'max':
    return nn.max_pool(x, window, strides, pads)
  return nn.avg_pool(x, window, strides, pads, count_include_pad=False)


def batch_norm(name: str, train: bool, frozen: str, path: Sequence[str], *,
               epsilon: float = 1e-3, momentum: float = 0.99, center: bool = True,
               scale: bool = True) -> nn.Module:
  """A Keras BatchNormalization layer (defaults: Keras') named `name`.

  frozen: regex over the layer's path ('backbone/conv1_bn'). A matching layer
  behaves as a Keras layer with trainable=False: it normalises with its
  moving statistics and never updates them, in training too. Otherwise
  (cnnlab's behaviour everywhere else) training normalises with the batch's
  statistics and updates the moving ones, even when config.freeze keeps the
  layer's scale and offset fixed.
  """
  keep = bool(frozen) and re.search(frozen, '/'.join(tuple(path) + (name,))) is not None
  return nn.BatchNorm(use_running_average=not train or keep, momentum=momentum,
                      epsilon=epsilon, use_bias=center, use_scale=scale, name=name)


def _pad(x, pads, value=0.0):
  (top, bottom), (left, right) = pads
  return jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _crop(x, crops):
  (top, bottom), (left, right) = crops
  return x[:, top:x.shape[1] - bottom, left:x.shape[2] - right, :]


def _merge(op):
  return lambda layer, inputs: functools.reduce(op, inputs)


# Layers without weights: (spec, [inputs]) -> output. Keyed by cnnlab's spec
# type (Keras' class name, aliases resolved by cnnlab.keras_import).
STATELESS: Dict[str, Callable[[Dict[str, Any], List[jax.Array]], jax.Array]] = {
    'Activation': lambda s, x: activation(s['activation'])(x[0]),
    'ReLU': lambda s, x: _keras_relu(x[0], s['max_value'], s['negative_slope'], s['threshold']),
    'LeakyReLU': lambda s, x: _leaky_relu(x[0], s['negative_slope']),
    'Softmax': lambda s, x: nn.softmax(x[0], axis=-1),
    'MaxPooling2D': lambda s, x: pool2d(x[0], 'max', s['pool_size'], s['strides'], s['padding']),
    'AveragePooling2D': lambda s, x: pool2d(x[0], 'avg', s['pool_size'], s['strides'],
                                            s['padding']),
    'GlobalAveragePooling2D': lambda s, x: jnp.mean(x[0], axis=(1, 2), keepdims=s['keepdims']),
    'GlobalMaxPooling2D': lambda s, x: jnp.max(x[0], axis=(1, 2), keepdims=s['keepdims']),
    'Flatten': lambda s, x: x[0].reshape((x[0].shape[0], -1)),
    'ZeroPadding2D': lambda s, x: _pad(x[0], s['padding']),
    'Cropping2D': lambda s, x: _crop(x[0], s['cropping']),
    'Rescaling': lambda s, x: x[0] * jnp.asarray(s['scale'], x[0].dtype) + jnp.asarray(
        s['offset'], x[0].dtype),
    'Add': _merge(jnp.add),
    'Subtract': lambda s, x: x[0] - x[1],
    'Multiply': _merge(jnp.multiply),
    'Maximum': _merge(jnp.maximum),
    'Minimum': _merge(jnp.minimum),
    'Average': lambda s, x: functools.reduce(jnp.add, x) / len(x),
    'Concatenate': lambda s, x: jnp.concatenate(x, axis=-1),
}
# Layers with weights or a training mode, applied in KerasNet.
WITH_STATE = ('InputLayer', 'Conv2D', 'Dense', 'BatchNormalization', 'Dropout',
              'SpatialDropout2D')
LAYER_TYPES = tuple(sorted(WITH_STATE + tuple(STATELESS)))


def _keras_relu(x, max_value, negative_slope, threshold):
  """keras.layers.ReLU, as keras.activations.relu computes it.

  x above threshold (0 below), capped at max_value, minus
  negative_slope * relu(threshold - x).
  """
  y = jnp.where(x > threshold, x, 0.0) if threshold else nn.relu(x)
  if max_value is not None:
    y = jnp.clip(y, 0.0, max_value)
  return y - negative_slope * nn.relu(threshold - x) if negative_slope else y


def parse_layers(keras_layers: str) -> List[Dict[str, Any]]:
  """The layer list of config.model.keras_layers (JSON), checked enough to build."""
  if not keras_layers:
    raise UserError("model 'keras' needs config.model.keras_layers, the layer list "
                    'cnnlab.import_keras writes: import a Keras file with it, or fine-tune an '
                    'imported one with --config=configs/keras.py:<its workdir>')
  try:
    layers = json.loads(keras_layers)
  except ValueError as e:
    raise UserError(f'config.model.keras_layers is not valid JSON ({e})') from None
  unknown = sorted({layer.get('type') for layer in layers} - set(LAYER_TYPES))
  if unknown:
    raise UserError(f'config.model.keras_layers has layer types {unknown}; supported: '
                    f'{", ".join(LAYER_TYPES)}')
  return layers


def output_head(layers: Sequence[Dict[str, Any]]) -> Optional[str]:
  """The name of the Dense layer that makes the classes (its softmax aside), or None.

  It is the output layer, or the one before trailing softmax/linear
  Activation, Softmax or Dropout layers.
  """
  for layer in reversed(layers):
    if layer['type'] == 'Dense':
      return layer['name']
    if not (layer['type'] == 'Softmax' or layer['type'] in ('Dropout', 'SpatialDropout2D') or (
        layer['type'] == 'Activation' and layer['activation'] in ('softmax', 'linear'))):
      return None
  return None


def last_softmax(layers: Sequence[Dict[str, Any]], i: int) -> bool:
  """Whether layers[i] is a Softmax / softmax Activation layer that ends the model."""
  layer = layers[i]
  return i == len(layers) - 1 and (layer['type'] == 'Softmax' or (
      layer['type'] == 'Activation' and layer['activation'] == 'softmax'))


class KerasNet(nn.Module):
  """A Keras model's layer graph as a Flax module (model 'keras').

  keras_layers: JSON layer list in topological order, the output last
    (cnnlab.keras_import.read_model writes it).
  num_classes: units of the output Dense (output_head); None keeps the file's.
  preprocess: the input convention (PREPROCESS); 'unit' feeds x / 255.
  frozen_batchnorm: regex over layer names whose BatchNorm keeps and uses its
    moving statistics in training (see batch_norm).
  """
  keras_layers: str = ''
  num_classes: Optional[int] = None
  preprocess: str = 'unit'
  frozen_batchnorm: str = ''

  @nn.compact
  def __call__(self, x, train: bool = False):
    layers = parse_layers(self.keras_layers)
    head = output_head(layers)
    values: Dict[str, jax.Array] = {}
    for i, layer in enumerate(layers):
      name, kind = layer['name'], layer['type']
      inputs = [values[n] for n in layer['inputs']]
      if kind == 'InputLayer':
        y = preprocess(x, self.preprocess)
      elif kind == 'Conv2D':
        padding = layer['padding'].upper()
        y = nn.Conv(layer['filters'], tuple(layer['kernel_size']), tuple(layer['strides']),
                    padding=padding, kernel_dilation=tuple(layer['dilation_rate']),
                    feature_group_count=layer['groups'], use_bias=layer['use_bias'],
                    kernel_init=keras_kernel_init, name=name)(inputs[0])
      elif kind == 'Dense':
        units = self.num_classes if name == head and self.num_classes else layer['units']
        y = nn.Dense(units, use_bias=layer['use_bias'], kernel_init=keras_kernel_init,
                     name=name)(inputs[0])
      elif kind == 'BatchNormalization':
        y = batch_norm(name, train, self.frozen_batchnorm, (), epsilon=layer['epsilon'],
                       momentum=layer['momentum'], center=layer['center'],
                       scale=layer['scale'])(inputs[0])
      elif kind in ('Dropout', 'SpatialDropout2D'):
        # SpatialDropout2D drops whole feature maps: one draw per (example, channel).
        broadcast = (1, 2) if kind == 'SpatialDropout2D' else ()
        y = nn.Dropout(layer['rate'], broadcast_dims=broadcast, deterministic=not train,
                       name=name)(inputs[0])
      elif last_softmax(layers, i):
        y = inputs[0]  # the model's softmax: cnnlab returns logits and applies it itself
      else:
        y = STATELESS[kind](layer, inputs)
      act = layer.get('activation', 'linear') if kind in ('Conv2D', 'Dense') else 'linear'
      if not (i == len(layers) - 1 and act == 'softmax'):  # likewise on the output layer
        y = activation(act)(y)
      values[name] = y
    logits = values[layers[-1]['name']]
    if self.num_classes and logits.shape[-1] != self.num_classes:
      raise UserError(f'the Keras model gives {logits.shape[-1]} outputs and does not end in a '
                      f'Dense layer that could be given {self.num_classes}: train it on data '
                      f'with {logits.shape[-1]} classes')
    return logits
