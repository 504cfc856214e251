"""Image classifiers, each registered by name in MODELS.

The seed notebooks' Keras networks are reproduced layer for layer (same
padding, pooling, dropout and Keras' glorot-uniform init) so a notebook user
finds theirs, and `python -m cnnlab.summary` reports the same parameter
totals as Keras' `model.summary()` (BatchNorm moving statistics count as
non-trainable, as in Keras). Every model maps float NHWC images to logits and
takes `train` to switch dropout and BatchNorm.
"""
import functools
from typing import Any, Sequence, Tuple

import flax.linen as nn
import jax.numpy as jnp

from cnnlab.registry import Registry

MODELS = Registry('model', 'model.name')

# Keras' defaults, so training dynamics match the notebooks.
keras_kernel_init = nn.initializers.glorot_uniform()
KerasBatchNorm = functools.partial(nn.BatchNorm, momentum=0.99, epsilon=1e-3)

# A layer of a Keras-style Sequential stack: (kind, argument).
#   ('conv', n)        3x3 conv, 'same' padding, relu
#   ('conv_valid', n)  3x3 conv, 'valid' padding, relu
#   ('pool', 2)        2x2 max pool, stride 2
#   ('drop', rate)     dropout
#   ('bn', None)       batch norm
#   ('dense', n)       dense + relu (a Flatten is inserted before the first)
Layer = Tuple[str, Any]


def max_pool(x, window: int):
  """Non-overlapping `window` x `window` max pool, 'valid' padding (Keras' default).

  Same values as `nn.max_pool(x, (w, w), strides=(w, w))`, written as crop +
  reshape + max: its gradient is then a mask rather than XLA's
  select-and-scatter, which XLA:CPU lowers to a slow scatter (5-8x per layer,
  +5-20% on the whole VGG step; benchmarks/throughput_results.md). On a tie the
  gradient is split over the tied inputs instead of going to the first one.
  """
  b, h, w, c = x.shape
  h_out, w_out = h // window, w // window
  x = x[:, :h_out * window, :w_out * window, :]
  return x.reshape(b, h_out, window, w_out, window, c).max(axis=(2, 4))


class SequentialCNN(nn.Module):
  """A Keras `Sequential` of conv / pool / dropout / BN / dense layers.

  The classifier head (Dense(num_classes)) is appended automatically.
  """
  layers: Sequence[Layer]
  num_classes: int = 10

  @nn.compact
  def __call__(self, x, train: bool = False):
    flat = False
    for kind, arg in self.layers:
      if kind in ('conv', 'conv_valid'):
        padding = 'SAME' if kind == 'conv' else 'VALID'
        x = nn.relu(nn.Conv(arg, (3, 3), padding=padding,
                            kernel_init=keras_kernel_init)(x))
      elif kind == 'pool':
        x = max_pool(x, arg)
      elif kind == 'drop':
        x = nn.Dropout(arg, deterministic=not train)(x)
      elif kind == 'bn':
        x = KerasBatchNorm(use_running_average=not train)(x)
      elif kind == 'dense':
        if not flat:
          x, flat = x.reshape((x.shape[0], -1)), True
        x = nn.relu(nn.Dense(arg, kernel_init=keras_kernel_init)(x))
      else:
        raise ValueError(f'unknown layer kind {kind!r}')
    if not flat:
      x = x.reshape((x.shape[0], -1))
    return nn.Dense(self.num_classes, kernel_init=keras_kernel_init)(x)


def _register_sequential(name: str, layers: Sequence[Layer]):
  MODELS.add(name, functools.partial(SequentialCNN, layers=tuple(layers)))


def _conv_pairs(widths, second='conv', bn=False, drop=0.25):
  """[conv w, (bn), second w, (bn), pool, drop] for each width."""
  layers = []
  for w in widths:
    layers += [('conv', w)] + [('bn', None)] * bn
    layers += [(second, w)] + [('bn', None)] * bn
    layers += [('pool', 2), ('drop', drop)]
  return layers


# Seed 004a: a multilayer perceptron (924,910 params on 32x32x3).
_register_sequential('mlp', [('dense', 300), ('drop', 0.5)])
# Seed 004b: one conv layer (82,826).
_register_sequential('conv1', [('conv', 32), ('pool', 2)])
# Seed 004c: two conv pairs and a small dense layer (234,550).
_register_sequential('conv4', [('conv', 32), ('conv', 32), ('pool', 2),
                               ('conv', 32), ('conv', 32), ('pool', 2),
                               ('dense', 100)])
# Seed 004d: the simplified VGG of configs/vgg.py (640,502).
_register_sequential('vgg', [('conv', 32), ('conv', 32), ('pool', 2),
                             ('conv', 64), ('conv', 64), ('pool', 2),
                             ('conv', 128), ('conv', 128), ('conv', 128),
                             ('pool', 2), ('dense', 100)])
# Seed 000: the Keras cifar10_cnn baseline, all 'same' (2,168,362).
_register_sequential('cnn', _conv_pairs([32, 64]) + [('dense', 512), ('drop', 0.5)])
# Seed 002: the "simple" model (4,210,090).
_register_sequential('simple_cnn', [('conv', 32), ('drop', 0.2), ('conv', 32),
                                    ('pool', 2), ('dense', 512), ('drop', 0.5)])
# Seed 002: wider conv pairs whose second conv is 'valid' (1,172,410).
_register_sequential('wide_cnn', _conv_pairs([48, 96, 192], second='conv_valid') +
                     [('dense', 512), ('drop', 0.5), ('dense', 256), ('drop', 0.5)])
# Seed 002: BatchNorm after every conv (685,354; 684,458 trainable).
_register_sequential('bn_cnn', _conv_pairs([32, 64, 128], second='conv_valid', bn=True) +
                     [('dense', 512), ('drop', 0.5), ('dense', 256), ('drop', 0.5)])
# Seed 003 (Fashion-MNIST 28x28x1, 5 classes): the brief model (804,037).
_register_sequential('fashion_brief', [('conv', 32), ('bn', None), ('pool', 2),
                                       ('dense', 128)])
# Seed 003: the deeper model (257,221).
_register_sequential('fashion_deep', [('conv', 32), ('pool', 2), ('bn', None),
                                      ('conv', 64), ('drop', 0.25), ('pool', 2),
                                      ('conv', 64), ('bn', None), ('drop', 0.25),
                                      ('dense', 64)])


# ---- ResNets ----------------------------------------------------------------
he_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')
TorchBatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


class BasicBlock(nn.Module):
  """Two 3x3 convs with a residual connection (He et al. 2016, fig. 2).

  shortcut='A': identity, subsampled and zero-padded in channels when the
  shape changes (the CIFAR ResNets, no extra parameters). 'B': 1x1 conv + BN
  projection when the shape changes (ResNet-18).
  """
  filters: int
  strides: int = 1
  shortcut: str = 'A'

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(TorchBatchNorm, use_running_average=not train)
    conv = functools.partial(nn.Conv, use_bias=False, kernel_init=he_init)
    y = conv(self.filters, (3, 3), strides=self.strides, padding=[(1, 1), (1, 1)])(x)
    y = nn.relu(norm()(y))
    y = conv(self.filters, (3, 3), padding=[(1, 1), (1, 1)])(y)
    y = norm()(y)
    if self.strides != 1 or x.shape[-1] != self.filters:
      if self.shortcut == 'A':
        x = x[:, ::self.strides, ::self.strides, :]
        extra = self.filters - x.shape[-1]
        x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
      else:
        x = conv(self.filters, (1, 1), strides=self.strides)(x)
        x = norm()(x)
    return nn.relu(x + y)


class CifarResNet(nn.Module):
  """ResNet for 32x32 inputs: a 3x3 stem, no max pool, stages of BasicBlocks."""
  stage_sizes: Sequence[int]
  widths: Sequence[int]
  shortcut: str = 'A'
  num_classes: int = 10

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(self.widths[0], (3, 3), padding=[(1, 1), (1, 1)], use_bias=False,
                kernel_init=he_init)(x)
    x = nn.relu(TorchBatchNorm(use_running_average=not train)(x))
    for stage, (blocks, width) in enumerate(zip(self.stage_sizes, self.widths)):
      for block in range(blocks):
        strides = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(width, strides, self.shortcut)(x, train)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes)(x)


# He et al. 2016, section 4.2: 6n+2 layers, widths 16/32/64, option A.
MODELS.add('resnet20', functools.partial(CifarResNet, (3, 3, 3), (16, 32, 64)))
MODELS.add('resnet56', functools.partial(CifarResNet, (9, 9, 9), (16, 32, 64)))
# ResNet-18 with the common CIFAR stem (3x3 conv, no max pool), option B.
MODELS.add('resnet18', functools.partial(CifarResNet, (2, 2, 2, 2), (64, 128, 256, 512),
                                         shortcut='B'))


def create_model(name: str, num_classes: int) -> nn.Module:
  """The registered model `name` with a `num_classes`-way head."""
  return MODELS.get(name)(num_classes=num_classes)
