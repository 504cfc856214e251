"""configs/seeds/: each seed experiment's config states the seed's protocol."""
import importlib
import os

import pytest

from cnnlab import models
from conftest import REPO

SEEDS_DIR = os.path.join(REPO, 'configs', 'seeds')
NAMES = sorted(f[:-3] for f in os.listdir(SEEDS_DIR)
               if f.startswith('seed') and f.endswith('.py') and not f.endswith('_common.py'))


@pytest.mark.parametrize('name', NAMES)
def test_docstring_gives_the_command_and_the_seeds_number(name):
  module = importlib.import_module(f'configs.seeds.{name}')
  doc = module.__doc__
  assert f'--config=configs/seeds/{name}.py' in doc, name
  assert 'printed' in doc or 'not run here' in doc, name  # the seed's own number, or why not
  module.get_config()  # builds


@pytest.mark.parametrize('name,params', [('seed004_mlp', 924_910), ('seed004_conv1', 82_826),
                                         ('seed004_conv4', 234_550), ('seed004_vgg', 640_502)])
def test_seed004_cifar_protocol(name, params):
  config = importlib.import_module(f'configs.seeds.{name}').get_config()
  # Keras 2's Adadelta defaults, batch 300, 10 epochs, no augmentation.
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.rho,
          config.optimizer.eps) == ('adadelta', 1.0, 0.95, 1e-7)
  assert (config.batch_size, config.num_epochs, config.augment) == (300, 10, '')
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  model = models.from_config(config.model, 10)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
  assert sum(x.size for x in jax.tree_util.tree_leaves(variables['params'])) == params


def test_seed004_subtraction_is_the_seeds_keras_setup():
  from configs.seeds import seed004_subtraction  # pylint: disable=g-import-not-at-top
  from seq2seq import input_pipeline  # pylint: disable=g-import-not-at-top
  config = seed004_subtraction.get_config()
  assert (config.operation, config.model.name, config.batch_size, config.num_epochs) == (
      '-', 'keras_lstm', 128, 39)
  assert config.reverse_input and not config.reverse_target
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.grad_clip_norm) == (
      'adam', 1e-3, 0.0)
  dataset = input_pipeline.create_dataset(config)
  assert (len(dataset.train), len(dataset.val), len(dataset.test)) == (45_000, 5_000, 5_000)
