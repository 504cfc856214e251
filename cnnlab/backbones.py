"""ImageNet backbones with keras.applications' layer names and layouts, plus a new head.

  VGG16                 keras.applications.VGG16(include_top=False): 13 convs, 5 max pools
  ResNet50 / 101 / 152  keras.applications.ResNet50/101/152(include_top=False): ResNet v1
                        (stride on the first 1x1 conv, biased convs, BatchNorm eps 1.001e-5);
                        the three differ only in their block counts

Each layer has Keras' name (`block1_conv1`, `conv2_block1_1_conv`, `conv1_bn`)
under the module 'backbone', so the weight files keras.applications
downloads, `<name>_weights_tf_dim_ordering_tf_kernels_notop.h5`, load by
layer name (`config.model.backbone_weights`, read by cnnlab.keras_import
without TensorFlow) and `config.freeze='^backbone/'` freezes the whole base.

Transfer (models 'vgg16', 'resnet50', 'resnet101', 'resnet152') is seed 003's
transfer-learning network: the input brought to the backbone's form (gray
repeated to RGB, padded or resized to `input_size`, Keras' preprocess_input
convention: 'caffe' for all four), the backbone without its top, then
Flatten (or Keras' pooling='avg'/'max'), hidden Dense+relu layers
`head_widths` (fc1, fc2, ...) with dropout, and `predictions`.
"""
import functools
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnlab import keras_import
from cnnlab import keras_net
from cnnlab.core.errors import UserError

# Where keras.applications keeps what it downloads (`keras.utils.get_file`,
# cache_subdir='models'); nothing downloads here.
KERAS_CACHE = os.path.join('~', '.keras', 'models')
_KERAS_APPS = 'https://storage.googleapis.com/tensorflow/keras-applications/'
# The notop weight files keras.applications downloads (keras/src/applications/).
NOTOP_URLS = {
    'vgg16': _KERAS_APPS + 'vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'resnet50': _KERAS_APPS + 'resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'resnet101': _KERAS_APPS + 'resnet/resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'resnet152': _KERAS_APPS + 'resnet/resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5',
}
# VGG16's blocks: (convs, filters).
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
RESNET_FILTERS = (64, 128, 256, 512)  # stages conv2..conv5; blocks output 4x these
RESIZE_METHODS = ('pad', 'nearest', 'bilinear', 'bicubic')
POOLINGS = ('flatten', 'avg', 'max')

conv = functools.partial(nn.Conv, kernel_init=keras_net.keras_kernel_init)


class VGG16(nn.Module):
  """keras.applications.VGG16's convolutional base (include_top=False, pooling=None)."""
  frozen_batchnorm: str = ''  # VGG16 has no BatchNorm; taken so every backbone takes it

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    for block, (convs, filters) in enumerate(VGG16_BLOCKS, 1):
      for i in range(1, convs + 1):
        x = nn.relu(conv(filters, (3, 3), padding='SAME', name=f'block{block}_conv{i}')(x))
      x = keras_net.pool2d(x, 'max', (2, 2), (2, 2), 'valid')  # block{block}_pool
    return x


def _pad(x, pad: int):
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


class ResNetV1(nn.Module):
  """keras.applications' ResNet v1 base (resnet.py, include_top=False, pooling=None).

  stage_sizes: blocks of stages conv2..conv5 (ResNet50: 3, 4, 6, 3).
  frozen_batchnorm: see keras_net.batch_norm (matched against
    'backbone/conv1_bn' and the like).
  """
  stage_sizes: Sequence[int]
  frozen_batchnorm: str = ''

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = functools.partial(keras_net.batch_norm, train=train, frozen=self.frozen_batchnorm,
                           path=self.scope.path, epsilon=1.001e-5)
    x = conv(64, (7, 7), strides=(2, 2), padding='VALID', name='conv1_conv')(_pad(x, 3))
    x = nn.relu(bn('conv1_bn')(x))
    x = keras_net.pool2d(_pad(x, 1), 'max', (3, 3), (2, 2), 'valid')  # pool1_pad, pool1_pool
    for stage, (blocks, filters) in enumerate(zip(self.stage_sizes, RESNET_FILTERS), 2):
      for block in range(1, blocks + 1):
        name = f'conv{stage}_block{block}'
        stride = (2, 2) if stage > 2 and block == 1 else (1, 1)
        shortcut = x
        if block == 1:  # a projection where the shape changes (Keras' conv_shortcut=True)
          shortcut = conv(4 * filters, (1, 1), strides=stride, padding='VALID',
                          name=f'{name}_0_conv')(x)
          shortcut = bn(f'{name}_0_bn')(shortcut)
        y = conv(filters, (1, 1), strides=stride, padding='VALID', name=f'{name}_1_conv')(x)
        y = nn.relu(bn(f'{name}_1_bn')(y))
        y = conv(filters, (3, 3), padding='SAME', name=f'{name}_2_conv')(y)
        y = nn.relu(bn(f'{name}_2_bn')(y))
        y = conv(4 * filters, (1, 1), padding='VALID', name=f'{name}_3_conv')(y)
        x = nn.relu(shortcut + bn(f'{name}_3_bn')(y))  # {name}_add, {name}_out
    return x


# name -> (the base, Keras' preprocess_input mode for its ImageNet weights).
BACKBONES: Dict[str, Tuple[Any, str]] = {
    'vgg16': (VGG16, 'caffe'),
    'resnet50': (functools.partial(ResNetV1, (3, 4, 6, 3)), 'caffe'),
    'resnet101': (functools.partial(ResNetV1, (3, 4, 23, 3)), 'caffe'),
    'resnet152': (functools.partial(ResNetV1, (3, 8, 36, 3)), 'caffe'),
}


def fit_input(x: jax.Array, size: Optional[int], method: str) -> jax.Array:
  """x (NHWC) as `size` x `size` RGB: gray repeated to 3 channels, then padded or resized.

  'pad' puts zeros (black, before any preprocessing) around the image,
  centred: seed 003's tf.pad of 28x28 Fashion-MNIST to 32x32, the smallest
  input VGG16 and the ResNets take without their top.
  """
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)  # seed 003: tf.repeat(x, 3, axis=3)
  if x.shape[-1] != 3:
    raise UserError(f'the ImageNet backbones take RGB or gray images, not {x.shape[-1]} channels')
  method = method or 'pad'
  if method not in RESIZE_METHODS:
    raise UserError(f'model.resize_method={method!r}: use one of {", ".join(RESIZE_METHODS)}')
  height, width = x.shape[1:3]
  if not size or (height, width) == (size, size):
    return x
  if method == 'pad':
    if height > size or width > size:
      raise UserError(f'images of {height}x{width} do not fit model.input_size={size} by '
                      "padding: set model.resize_method='bilinear' to resize them")
    top, left = (size - height) // 2, (size - width) // 2
    return jnp.pad(x, ((0, 0), (top, size - height - top), (left, size - width - left), (0, 0)))
  # Keras' Resizing / tf.image.resize default: no antialiasing.
  return jax.image.resize(x, (x.shape[0], size, size, 3), method, antialias=False)


class Transfer(nn.Module):
  """An ImageNet backbone with a new classifier head (seed 003's transfer learning).

  backbone: a BACKBONES name.
  backbone_weights: a Keras notop .h5 loaded by layer name when training
    starts (load_pretrained); '' = Keras' random init.
  preprocess: keras_net.PREPROCESS mode; '' = the backbone's Keras convention.
  input_size, resize_method: see fit_input; None = the images' own size.
  pooling: 'flatten' (seed 003), or Keras' pooling='avg' / 'max'.
  head_widths, head_dropout: hidden Dense+relu layers fc1, fc2, ... each
    followed by dropout (seed 003's VGG: 4096, 4096, 0.5).
  frozen_batchnorm: see keras_net.batch_norm; '^backbone/' with
    config.freeze='^backbone/' is Keras' base_model.trainable = False.
  """
  backbone: str = 'vgg16'
  num_classes: int = 10
  backbone_weights: str = ''
  preprocess: str = ''
  input_size: Optional[int] = None
  resize_method: str = ''
  pooling: str = ''
  head_widths: Sequence[int] = ()
  head_dropout: float = 0.0
  frozen_batchnorm: str = ''

  @nn.compact
  def __call__(self, x, train: bool = False):
    base, mode = BACKBONES[self.backbone]
    x = fit_input(x, self.input_size, self.resize_method)
    x = keras_net.preprocess(x, self.preprocess or mode)
    x = base(frozen_batchnorm=self.frozen_batchnorm, name='backbone')(x, train)
    pooling = self.pooling or 'flatten'
    if pooling not in POOLINGS:
      raise UserError(f'model.pooling={pooling!r}: use one of {", ".join(POOLINGS)}')
    if pooling == 'flatten':
      x = x.reshape((x.shape[0], -1))
    else:
      x = jnp.mean(x, axis=(1, 2)) if pooling == 'avg' else jnp.max(x, axis=(1, 2))
    for i, width in enumerate(self.head_widths, 1):
      x = nn.relu(nn.Dense(width, kernel_init=keras_net.keras_kernel_init, name=f'fc{i}')(x))
      if self.head_dropout:
        x = nn.Dropout(self.head_dropout, deterministic=not train)(x)
    return nn.Dense(self.num_classes, kernel_init=keras_net.keras_kernel_init,
                    name='predictions')(x)

  def load_pretrained(self, params, batch_stats):
    """(params, batch_stats) with the backbone's weights from model.backbone_weights."""
    if not self.backbone_weights:
      return params, batch_stats
    path = weights_path(self.backbone_weights, self.backbone)
    backbone, stats = load_backbone(path, params['backbone'], batch_stats.get('backbone', {}))
    batch_stats = dict(batch_stats, backbone=stats) if stats else batch_stats
    return dict(params, backbone=backbone), batch_stats


def weights_path(path: str, backbone: str) -> str:
  """The file `path` names: as given, or in Keras' download cache ~/.keras/models/."""
  full = os.path.expanduser(path)
  if os.path.isfile(full):
    return full
  cached = os.path.join(os.path.expanduser(KERAS_CACHE), path)
  if os.path.dirname(path) == '' and os.path.isfile(cached):
    return cached
  url = NOTOP_URLS.get(backbone, '')
  raise UserError(
      f'model.backbone_weights={path!r}: no such file (nor in {KERAS_CACHE}/). Nothing downloads '
      f'here: keras.applications (weights="imagenet", include_top=False) downloads '
      f'{os.path.basename(url)} into {KERAS_CACHE}/, from {url}')


def _keras_names(layer_params: Dict[str, Any], layer_stats: Dict[str, Any]):
  """Keras' weight names, in Keras' order, of a Flax Conv or BatchNorm layer."""
  if 'mean' in layer_stats:
    return (['gamma'] * ('scale' in layer_params) + ['beta'] * ('bias' in layer_params) +
            ['moving_mean', 'moving_variance'])
  return ['kernel'] + ['bias'] * ('bias' in layer_params)


def load_backbone(path: str, params: Dict[str, Any], batch_stats: Dict[str, Any]):
  """(params, batch_stats) of a backbone module with every layer read from `path`.

  Layers match by name and must match exactly both ways: a file of another
  network (ResNet101's holds every ResNet50 layer name) is refused rather
  than loaded in part.
  """
  stored = keras_import.read_weights(path)
  layers = sorted(set(params) | set(batch_stats))
  missing = [n for n in layers if n not in stored]
  extra = sorted(set(stored) - set(layers))
  if missing or extra:
    raise UserError(f'{path!r} does not hold this backbone\'s layers: missing {missing[:4]}'
                    f'{"..." if len(missing) > 4 else ""} ({len(missing)}), not in the model '
                    f'{extra[:4]}{"..." if len(extra) > 4 else ""} ({len(extra)}). Use the '
                    'notop file of the same network')
  new_params, new_stats = {}, {}
  for layer in layers:
    ours_p, ours_s = params.get(layer, {}), batch_stats.get(layer, {})
    named = keras_import.name_weights(layer, stored[layer], _keras_names(ours_p, ours_s))
    theirs = keras_import.flax_variables({layer: named})
    for ours, collection, out in ((ours_p, 'params', new_params),
                                  (ours_s, 'batch_stats', new_stats)):
      for key, value in ours.items():
        loaded = theirs[collection][layer][key]
        if loaded.shape != value.shape:
          raise UserError(f'{path!r}: {layer}/{key} has shape {loaded.shape}, the model '
                          f'{value.shape}')
        out.setdefault(layer, {})[key] = jnp.asarray(loaded, value.dtype)
  return new_params, new_stats
