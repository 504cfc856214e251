"""Exact parameter counts: each must equal the Keras summary() total of the seed."""
import jax
import flax.linen as nn
import jax.numpy as jnp
import pytest

from cnnlab import models
from cnnlab import summary
from cnnlab.core.errors import UserError

CIFAR, FASHION = (32, 32, 3), (28, 28, 1)

# (model, input, classes, total params, trainable params)
EXPECTED = [
    ('mlp', CIFAR, 10, 924_910, 924_910),            # seed 004a
    ('conv1', CIFAR, 10, 82_826, 82_826),            # seed 004b
    ('conv4', CIFAR, 10, 234_550, 234_550),          # seed 004c
    ('vgg', CIFAR, 10, 640_502, 640_502),            # seed 004d
    ('cnn', CIFAR, 10, 2_168_362, 2_168_362),        # seed 000
    ('simple_cnn', CIFAR, 10, 4_210_090, 4_210_090),  # seed 002
    ('large_cnn', CIFAR, 10, 2_915_114, 2_915_114),  # seed 002, "large"
    ('wide_cnn', CIFAR, 10, 1_172_410, 1_172_410),   # seed 002
    ('bn_cnn', CIFAR, 10, 685_354, 684_458),         # seed 002, BatchNorm
    ('fashion_brief', FASHION, 5, 804_037, 803_973),  # seed 003
    ('fashion_deep', FASHION, 5, 257_221, 257_029),  # seed 003
    # He et al. 2016 option A: 0.27M / 0.85M; trainable excludes BN moving stats.
    ('resnet20', CIFAR, 10, 271_098, 269_722),
    ('resnet56', CIFAR, 10, 857_082, 853_018),
    ('resnet18', CIFAR, 10, 11_183_562, 11_173_962),
    # airbench94 (64/256/256): params include the 288 fitted, frozen whitening
    # weights; PyTorch's count adds 1,152 frozen BatchNorm scales (1,972,792).
    ('airbench', CIFAR, 10, 1_973_944, 1_971_640),
    # keras.applications' bases (include_top=False) as Keras counts them, plus
    # Flatten + Dense(10) on their 1x1 output: VGG16 14,714,688 + 5,130;
    # ResNet50 / 101 / 152 23,587,712 / 42,658,176 / 58,370,944 + 20,490.
    ('vgg16', CIFAR, 10, 14_719_818, 14_719_818),
    ('resnet50', CIFAR, 10, 23_608_202, 23_555_082),
    ('resnet101', CIFAR, 10, 42_678_666, 42_573_322),
    ('resnet152', CIFAR, 10, 58_391_434, 58_240_010),
]
# Models with no network of their own: 'keras' is built from a Keras file's
# layer list (tests/test_keras_import.py, tests/test_keras_net.py).
FROM_FILES = ('keras',)


def count(tree):
  return sum(x.size for x in jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize('name,shape,classes,total,trainable', EXPECTED)
def test_parameter_counts(name, shape, classes, total, trainable):
  model = models.create_model(name, classes)
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros((1,) + shape), train=False))
  assert count(variables) == total
  assert count(variables['params']) == trainable


def test_every_registered_model_is_covered():
  assert sorted([name for name, *_ in EXPECTED] + list(FROM_FILES)) == models.MODELS.names()


def test_forward_shapes_and_dropout_switch():
  model = models.create_model('cnn', 7)
  x = jnp.ones((2, 32, 32, 3))
  variables = model.init(jax.random.key(0), x, train=False)
  eval_a = model.apply(variables, x, train=False)
  eval_b = model.apply(variables, x, train=False)
  train_a = model.apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
  assert eval_a.shape == (2, 7)
  assert (eval_a == eval_b).all()          # deterministic in eval
  assert not (eval_a == train_a).all()     # dropout active in training


def test_unknown_model_lists_known_names():
  with pytest.raises(UserError) as e:
    models.create_model('vggg', 10)  # (vgg16 exists: cnnlab.backbones)
  assert "Unknown model 'vggg'" in str(e.value)
  assert 'resnet20' in str(e.value) and "Did you mean 'vgg'" in str(e.value)


def test_registry_refuses_duplicates():
  with pytest.raises(ValueError, match='twice'):
    models.MODELS.add('vgg', object)


def test_summary_table_matches_keras_totals():
  text = summary.format_summary('bn_cnn', models.create_model('bn_cnn', 10), CIFAR)
  assert 'Total params: 685,354' in text
  assert 'Trainable params: 684,458' in text
  assert 'Non-trainable params: 896' in text
  # Seed 002's summary: the first pair all 'same', the next pairs' second conv 'valid'.
  assert text.count('(None, 32, 32, 32)') == 4  # two convs, each with its BatchNorm
  assert '(None, 14, 14, 64)' in text and '(None, 5, 5, 128)' in text
  assert '(None, 30, 30, 32)' not in text


def keras_seed002(name):
  """Seed 002's Keras networks, written with its layers and arguments (the oracle)."""
  import keras  # pylint: disable=g-import-not-at-top
  L = keras.layers
  conv = lambda n, **kw: L.Conv2D(n, (3, 3), activation='relu', **kw)
  if name == 'large_cnn':
    layers = [conv(32, padding='same'), L.Dropout(0.2), conv(32, padding='same'),
              L.MaxPooling2D(), conv(64, padding='same'), L.Dropout(0.2),
              conv(64, padding='same'), L.MaxPooling2D(), conv(128, padding='same'),
              L.Dropout(0.2), conv(128, padding='same'), L.MaxPooling2D(), L.Flatten(),
              L.Dropout(0.2), L.Dense(1024, activation='relu'), L.Dropout(0.2),
              L.Dense(512, activation='relu'), L.Dropout(0.2), L.Dense(10, activation='softmax')]
  elif name == 'bn_cnn':
    layers = [conv(32, padding='same'), L.BatchNormalization(), conv(32, padding='same'),
              L.BatchNormalization(), L.MaxPooling2D((2, 2)), L.Dropout(0.25),
              conv(64, padding='same'), L.BatchNormalization(), conv(64),
              L.BatchNormalization(), L.MaxPooling2D((2, 2)), L.Dropout(0.25),
              conv(128, padding='same'), L.BatchNormalization(), conv(128),
              L.BatchNormalization(), L.MaxPooling2D((2, 2)), L.Dropout(0.25), L.Flatten(),
              L.Dense(512, activation='relu'), L.Dropout(0.5), L.Dense(256, activation='relu'),
              L.Dropout(0.5), L.Dense(10, activation='softmax')]
  else:  # wide_cnn: the wide net with dropout ("latest" before BatchNorm)
    layers = []
    for n in (48, 96, 192):
      layers += [conv(n, padding='same'), conv(n), L.MaxPooling2D((2, 2)), L.Dropout(0.25)]
    layers += [L.Flatten(), L.Dense(512, activation='relu'), L.Dropout(0.5),
               L.Dense(256, activation='relu'), L.Dropout(0.5), L.Dense(10, activation='softmax')]
  return keras.Sequential([keras.Input(CIFAR)] + layers)


@pytest.mark.parametrize('name', ['large_cnn', 'bn_cnn', 'wide_cnn'])
def test_seed002_models_equal_keras_layer_for_layer(name):
  import keras  # pylint: disable=g-import-not-at-top
  reference = keras_seed002(name)
  model = models.create_model(name, 10)
  rows, variables = summary.layer_table(model, CIFAR)
  weighted = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense,
              keras.layers.Dropout)
  expected = [(type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
              for layer in reference.layers if isinstance(layer, weighted)]
  kinds = {'Conv2D': 'Conv', 'BatchNormalization': 'BatchNorm', 'Dense': 'Dense',
           'Dropout': 'Dropout'}
  assert [(kinds[k], s, n) for k, s, n in expected] == [(k, s[1:], n) for _, k, s, n in rows]
  assert count(variables) == reference.count_params()
  assert rows[-1][2] == (1, 10) and tuple(reference.layers[-1].output.shape) == (None, 10)


def test_large_cnn_output_shape_and_count_as_the_seed_prints():
  # Seed 002's "large" network: 2,915,114 parameters, 10 logits per image.
  model = models.create_model('large_cnn', 10)
  x = jnp.zeros((2,) + CIFAR)
  variables = model.init(jax.random.key(0), x, train=False)
  assert count(variables) == 2_915_114
  assert model.apply(variables, x, train=False).shape == (2, 10)
  assert models.dropout_rates(models.create_model('large_cnn', 10).layers) == [0.2] * 6


def test_dropout_override():
  own = models.create_model('wide_cnn', 10)
  assert models.dropout_rates(own.layers) == [0.25, 0.25, 0.25, 0.5, 0.5]
  # '0': seed 002's wide network without dropout, the same parameters.
  none = models.create_model('wide_cnn', 10, dropout='0')
  assert models.dropout_rates(none.layers) == []
  assert [l for l in own.layers if l[0] != 'drop'] == list(none.layers)
  x = jax.random.uniform(jax.random.key(2), (4,) + CIFAR)
  variables = none.init(jax.random.key(0), x, train=False)
  assert count(variables) == 1_172_410
  train_a = none.apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
  assert (train_a == none.apply(variables, x, train=False)).all()  # nothing dropped
  assert not (own.apply(variables, x, train=True, rngs={'dropout': jax.random.key(1)})
              == train_a).all()
  # One number: every dropout layer at that rate; a list: one rate per layer.
  assert models.dropout_rates(models.create_model('wide_cnn', 10, dropout='0.1').layers) == [0.1] * 5
  less = models.create_model('large_cnn', 10, dropout='0.2,0,0,0,0.2,0.2')  # seed 002's ablation
  assert models.dropout_rates(less.layers) == [0.2, 0.2, 0.2]
  assert less.layers[:2] == (('conv', 32), ('drop', 0.2))
  assert less.layers[-4:] == (('dense', 1024), ('drop', 0.2), ('dense', 512), ('drop', 0.2))
  # Through the config, as --config.model.dropout=0 sets it.
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.model.name, config.model.dropout = 'bn_cnn', '0'
  assert models.dropout_rates(models.from_config(config.model, 10).layers) == []


@pytest.mark.parametrize('name,spec,phrase', [
    ('wide_cnn', '0.1,0.2', r'gives 2 rates but wide_cnn has 5 dropout layers \(its rates: '
     r'0.25,0.25,0.25,0.5,0.5\)'),
    ('wide_cnn', '1.0', r'in \[0, 1\)'),
    ('wide_cnn', 'half', 'comma list'),
    ('resnet20', '0', r"model 'resnet20' does not take \['dropout'\]"),
])
def test_dropout_override_errors(name, spec, phrase):
  with pytest.raises(UserError, match=phrase):
    models.create_model(name, 10, dropout=spec)


@pytest.mark.parametrize('size', [32, 15, 13])  # even, and odd sizes after 'valid' convs
def test_max_pool_equals_flax_reduce_window(size):
  x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
  def flax_pool(v):
    return nn.max_pool(v, (2, 2), strides=(2, 2))
  assert (models.max_pool(x, 2) == flax_pool(x)).all()
  assert models.max_pool(x, 2).shape == (2, size // 2, size // 2, 3)
  # Without ties (random floats) the gradients agree exactly too.
  def grad(pool):
    return jax.grad(lambda v: (pool(v) * jnp.arange(3.)).sum())(x)
  assert (grad(lambda v: models.max_pool(v, 2)) == grad(flax_pool)).all()
