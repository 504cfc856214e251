"""Image classifiers, each registered by name in MODELS.

The seed notebooks' Keras networks are reproduced layer for layer (same
padding, pooling, dropout and Keras' glorot-uniform init) so a notebook user
finds theirs, and `python -m cnnlab.summary` reports the same parameter
totals as Keras' `model.summary()` (BatchNorm moving statistics count as
non-trainable, as in Keras). Every model maps float NHWC images to logits and
takes `train` to switch dropout and BatchNorm.
"""
import functools
from typing import Any, Dict, List, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cnnlab import backbones
from cnnlab import keras_net
from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

MODELS = Registry('model', 'model.name')
# Training images a model's data-fitted parameters are fitted on (airbench: 5,000).
FIT_IMAGES = 5000

# Keras' defaults, so training dynamics match the notebooks.
keras_kernel_init = nn.initializers.glorot_uniform()
KerasBatchNorm = functools.partial(nn.BatchNorm, momentum=0.99, epsilon=1e-3)

# A layer of a Keras-style Sequential stack: (kind, argument).
#   ('conv', n)        3x3 conv, 'same' padding, relu
#   ('conv_valid', n)  3x3 conv, 'valid' padding, relu
#   ('pool', 2)        2x2 max pool, stride 2
#   ('drop', rate)     dropout
#   ('bn', None)       batch norm
#   ('flatten', None)  an explicit Flatten (where a dropout comes between it and the dense)
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
      elif kind == 'flatten':
        x, flat = x.reshape((x.shape[0], -1)), True
      elif kind == 'dense':
        if not flat:
          x, flat = x.reshape((x.shape[0], -1)), True
        x = nn.relu(nn.Dense(arg, kernel_init=keras_kernel_init)(x))
      else:
        raise ValueError(f'unknown layer kind {kind!r}')
    if not flat:
      x = x.reshape((x.shape[0], -1))
    return nn.Dense(self.num_classes, kernel_init=keras_kernel_init)(x)


def dropout_rates(layers: Sequence[Layer]) -> List[float]:
  """The rates of `layers`' dropout layers, in order."""
  return [rate for kind, rate in layers if kind == 'drop']


def with_dropout(layers: Sequence[Layer], spec: str, name: str = '') -> Tuple[Layer, ...]:
  """`layers` with their dropout rates replaced as config.model.dropout says.

  spec: '' keeps the model's own rates; one number sets every dropout layer
  to it ('0': the network without dropout, seed 002's "wide without
  dropout"); a comma list gives one rate per dropout layer in order ('0.2,0,0,0,0.2,0.2':
  seed 002's "less dropout" large CNN). A rate of 0 removes the layer.

  Raises:
    UserError: a rate outside [0, 1), or a list of the wrong length (the
      message lists the model's own rates).
  """
  spec = str(spec).strip()
  if not spec:
    return tuple(layers)
  defaults = dropout_rates(layers)
  own = ','.join(f'{r:g}' for r in defaults) or 'none'
  try:
    rates = [float(v) for v in spec.split(',')]
  except ValueError:
    raise UserError(f'model.dropout={spec!r}: give one rate or a comma list of rates, e.g. '
                    f'0 (no dropout) or {own} ({name}\'s own)') from None
  if len(rates) == 1:
    rates = rates * len(defaults)
  if len(rates) != len(defaults):
    raise UserError(f'model.dropout={spec!r} gives {len(rates)} rates but {name} has '
                    f'{len(defaults)} dropout layers (its rates: {own}): give one rate for '
                    f'all of them or exactly {len(defaults)}')
  bad = [r for r in rates if not 0.0 <= r < 1.0]
  if bad:
    raise UserError(f'model.dropout={spec!r}: rates must be in [0, 1) (got {bad[0]:g})')
  rates = iter(rates)
  out = []
  for kind, arg in layers:
    if kind == 'drop':
      rate = next(rates)
      if rate > 0:  # a Dropout(0) layer would do nothing: leave it out, as the seed's code does
        out.append((kind, rate))
    else:
      out.append((kind, arg))
  return tuple(out)


def _register_sequential(name: str, layers: Sequence[Layer]):
  layers = tuple(layers)

  def build(num_classes: int = 10, dropout: str = '') -> SequentialCNN:
    # Resolved here, when the model is created: a bad model.dropout stops
    # the run before any data is loaded.
    return SequentialCNN(layers=with_dropout(layers, dropout, name), num_classes=num_classes)

  build.layers = layers  # the model's own layers, for tests and summaries
  MODELS.add(name, build)


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
# Seed 002: the "large" model: three conv pairs with dropout between the convs,
# dropout before and after each dense layer (2,915,114). Seed 002 puts
# maxnorm(3) on its two hidden dense layers: optimizer.max_norm=3,
# max_norm_layers='Dense_[01]/kernel'.
_register_sequential('large_cnn', [
    ('conv', 32), ('drop', 0.2), ('conv', 32), ('pool', 2),
    ('conv', 64), ('drop', 0.2), ('conv', 64), ('pool', 2),
    ('conv', 128), ('drop', 0.2), ('conv', 128), ('pool', 2),
    ('flatten', None), ('drop', 0.2), ('dense', 1024), ('drop', 0.2), ('dense', 512), ('drop', 0.2)])
# Seed 002: BatchNorm after every conv; the first pair all 'same' (32x32), the
# next two pairs' second conv 'valid' (16 -> 14, 7 -> 5), as the seed's
# summary prints them (685,354; 684,458 trainable).
_register_sequential('bn_cnn', _conv_pairs([32], bn=True) +
                     _conv_pairs([64, 128], second='conv_valid', bn=True) +
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


# ---- airbench ----------------------------------------------------------------
# Keller Jordan's airbench94 (arXiv 2404.00498, KellerJordan/cifar10-airbench,
# legacy/airbench94.py): 94% on CIFAR-10 in under 10 epochs.
# PyTorch's default conv / linear init: uniform(+-1 / sqrt(fan_in)).
torch_default_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def dirac_init(key, shape, dtype=jnp.float32):
  """torch.nn.init.dirac_ on the first `in` output channels of an HWIO kernel.

  Output channel i < in_channels starts as the identity of input channel i
  (a 1 at the kernel's centre), so each conv starts close to passing its
  input through; the remaining output channels keep PyTorch's default init.
  """
  height, width, fan_in, fan_out = shape
  kernel = torch_default_init(key, shape, dtype)
  n = min(fan_in, fan_out)
  identity = jnp.zeros((height, width, fan_in, n), dtype)
  identity = identity.at[height // 2, width // 2, jnp.arange(n), jnp.arange(n)].set(1)
  return kernel.at[..., :n].set(identity)


def patches(images: jnp.ndarray, size: int) -> jnp.ndarray:
  """Every `size` x `size` patch of images [N, H, W, C], flattened in (dy, dx, c) order."""
  n, h, w, c = images.shape
  rows = [images[:, dy:h - size + 1 + dy, dx:w - size + 1 + dx, :]
          for dy in range(size) for dx in range(size)]
  return jnp.stack(rows, axis=3).reshape(-1, size * size * c)


def whitening_kernel(images, size: int = 2, eps: float = 5e-4) -> np.ndarray:
  """airbench's patch-whitening conv kernel, fitted to normalized images [N, H, W, C].

  With the patch covariance E[p p^T] = V diag(lambda) V^T (uncentred, as
  airbench computes it), output channel j is the eigenvector v_j scaled by
  1 / sqrt(lambda_j + eps), largest eigenvalue first, and channels
  k + j (k = size^2 C) are their negatives: 2 k channels, so the GELU after
  it keeps both signs of every whitened direction.

  Returns:
    float32 kernel [size, size, C, 2 size^2 C] (HWIO).
  """
  images = np.asarray(images, np.float32)
  dim = size * size * images.shape[-1]
  covariance = np.zeros((dim, dim), np.float64)
  count = 0
  for start in range(0, len(images), 512):  # chunked: 45,000 images' patches at once is 2 GB
    p = np.asarray(patches(jnp.asarray(images[start:start + 512]), size), np.float64)
    covariance += p.T @ p
    count += len(p)
  eigenvalues, eigenvectors = np.linalg.eigh(covariance / max(count, 1))
  order = np.argsort(eigenvalues)[::-1]
  scaled = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + eps)
  kernel = np.concatenate([scaled, -scaled], axis=1)
  return kernel.reshape(size, size, images.shape[-1], 2 * dim).astype(np.float32)


class WhiteningConv(nn.Module):
  """A 'valid' conv whose kernel is fitted from data (whitening_kernel), not trained.

  The kernel is a parameter (so it is checkpointed with the weights) behind
  a stop_gradient; Airbench.FROZEN_PARAMS tells the optimizer to leave it
  alone (no weight decay either). Its bias trains as usual.
  """
  size: int = 2

  @nn.compact
  def __call__(self, x):
    features = 2 * self.size * self.size * x.shape[-1]
    kernel = self.param('kernel', torch_default_init,
                        (self.size, self.size, x.shape[-1], features))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    kernel = jax.lax.stop_gradient(kernel).astype(x.dtype)
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), 'VALID',
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + bias.astype(x.dtype)


class ConvGroup(nn.Module):
  """airbench's block: conv3x3, max pool 2, BN, GELU, conv3x3, BN, GELU.

  BatchNorm: scale frozen at 1 (use_scale=False), eps 1e-12 and momentum 0.6
  in Flax's convention (running = 0.6 running + 0.4 batch; PyTorch writes
  the same as momentum=0.4). BN runs in float32 whatever the conv dtype.
  """
  features: int
  bn_momentum: float = 0.6
  bn_epsilon: float = 1e-12
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(nn.Conv, self.features, (3, 3), padding='SAME', use_bias=False,
                             kernel_init=dirac_init, dtype=self.dtype)
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, use_scale=False,
                             momentum=self.bn_momentum, epsilon=self.bn_epsilon,
                             dtype=jnp.float32)
    x = max_pool(conv()(x), 2)
    x = nn.gelu(norm()(x), approximate=False).astype(self.dtype)
    x = conv()(x)
    return nn.gelu(norm()(x), approximate=False).astype(self.dtype)


class Airbench(nn.Module):
  """airbench94's network: whitening conv, three ConvGroups, max pool 3, linear / 9.

  widths: the three groups' channels (airbench94: 64, 256, 256).
  dtype: the convolutions' compute dtype (bfloat16 on a GPU); parameters and
    BatchNorm stay float32.
  """
  widths: Sequence[int] = (64, 256, 256)
  num_classes: int = 10
  whiten_size: int = 2
  logit_scale: float = 1.0 / 9.0
  head_init: str = ''  # 'unit_std': PyTorch's init rescaled to std 1 (airbench94_muon)
  dtype: Any = jnp.float32

  # Parameters set by fit_params and never changed by the optimizer.
  FROZEN_PARAMS = r'^whiten/kernel$'

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = WhiteningConv(self.whiten_size, name='whiten')(x.astype(self.dtype))
    x = nn.gelu(x, approximate=False)
    for width in self.widths:
      x = ConvGroup(width, dtype=self.dtype)(x, train)
    x = max_pool(x, 3).reshape((x.shape[0], -1))
    head_init = torch_default_init
    if self.head_init == 'unit_std':
      head_init = lambda *a: (lambda w: w / jnp.std(w))(torch_default_init(*a))
    elif self.head_init:
      raise UserError(f"model.head_init={self.head_init!r}: use 'unit_std' or ''")
    x = nn.Dense(self.num_classes, use_bias=False, kernel_init=head_init, dtype=self.dtype)(x)
    return x.astype(jnp.float32) * self.logit_scale

  def fit_params(self, params, images):
    """params with the whitening kernel fitted to normalized training images."""
    kernel = whitening_kernel(images, self.whiten_size)
    whiten = dict(params['whiten'], kernel=jnp.asarray(kernel))
    return dict(params, whiten=whiten)


MODELS.add('airbench', Airbench)


# ---- Keras files and ImageNet backbones ----------------------------------------
# A network read from a Keras file by cnnlab.import_keras (its layer list in
# config.model.keras_layers; cnnlab/keras_net.py).
MODELS.add('keras', keras_net.KerasNet)
# keras.applications' VGG16 and ResNets with a new head (cnnlab/backbones.py):
# 14,714,688 / 23,587,712 / 42,658,176 / 58,370,944 params without the head.
for _backbone in backbones.BACKBONES:
  MODELS.add(_backbone, functools.partial(backbones.Transfer, backbone=_backbone))


def create_model(name: str, num_classes: int, **options) -> nn.Module:
  """The registered model `name` with a `num_classes`-way head.

  options: the model's own fields (config.model minus `name`, where set),
  e.g. widths=(32, 64, 128) for airbench.
  """
  factory = MODELS.get(name)
  try:
    return factory(num_classes=num_classes, **options)
  except TypeError as e:
    raise UserError(f'model {name!r} does not take {sorted(options)} ({e}): remove those '
                    '--config.model fields or pick a model that has them') from None


def model_options(model_config) -> Dict[str, Any]:
  """The options of config.model that are set (empty or None = the model's default)."""
  options = {}
  for key, value in dict(model_config).items():
    # (A run's meta.json gives back a tuple as a list.)
    if key == 'name' or value is None or (isinstance(value, (str, list, tuple)) and not value):
      continue
    options[key] = tuple(value) if isinstance(value, list) else value
  if isinstance(options.get('dtype'), str):
    options['dtype'] = jnp.dtype(options['dtype'])
  return options


def from_config(model_config, num_classes: int) -> nn.Module:
  """create_model from a config.model section (name plus options)."""
  return create_model(model_config.name, num_classes, **model_options(model_config))


def frozen_params(model: nn.Module) -> str:
  """Regex of the parameters `model` fits itself and the optimizer must not touch."""
  return getattr(model, 'FROZEN_PARAMS', '')


def fit_params(model: nn.Module, params, images):
  """params after the model's own data-fitted initialisation (if it has one)."""
  fit = getattr(model, 'fit_params', None)
  return params if fit is None else fit(params, images)


def pretrained(model: nn.Module, params, batch_stats):
  """(params, batch_stats) with the model's pretrained weights loaded, if it has any.

  The ImageNet backbones read config.model.backbone_weights here, when a run
  starts (a resumed run restores its own checkpoint instead).
  """
  load = getattr(model, 'load_pretrained', None)
  return (params, batch_stats) if load is None else load(params, batch_stats)
