r"""Prints a Keras-like summary of a config's model: layer, output shape, params.

  python -m cnnlab.summary --config=configs/vgg.py
  python -m cnnlab.summary --config=configs/vgg.py --config.model.name=resnet20
  python -m cnnlab.summary --model=fashion_deep --image_shape=28,28,1 --num_classes=5

Totals match Keras' model.summary(): BatchNorm moving statistics are counted
as non-trainable parameters.
"""
import re
from typing import Any, List, Sequence, Tuple

from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp
from ml_collections import config_flags

from cnnlab.core import cli
from cnnlab import models
from cnnlab import optimizers
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Flags of the command line only: importing the module (tests, other CLIs) defines none."""
  config_flags.DEFINE_config_file('config', 'configs/vgg.py', 'Training configuration file.')
  flags.DEFINE_string('model', '', 'A model name; overrides config.model.name.')
  flags.DEFINE_string('image_shape', '', 'H,W,C of the input; default from config.data.name.')
  flags.DEFINE_integer('num_classes', 0, 'Classes; default from config.data.name (10).')


# Input shapes of the built-in datasets; image folders default to CIFAR's.
DATASET_SHAPES = {'mnist': (28, 28, 1), 'fashion_mnist': (28, 28, 1), 'cifar10': (32, 32, 3)}


def count(tree: Any) -> int:
  return sum(x.size for x in jax.tree_util.tree_leaves(tree))


def layer_table(model: nn.Module, image_shape: Sequence[int]
                ) -> Tuple[List[Tuple[str, str, Tuple[int, ...], int]], Any]:
  """[(layer path, type, output shape, params)] for each direct child call, and variables."""
  x = jnp.zeros((1,) + tuple(image_shape), jnp.float32)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
  rows = []

  def interceptor(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    module = context.module
    if context.method_name == '__call__' and len(module.scope.path) == 1:
      name = module.scope.path[0]
      params = sum(count(variables[col].get(name, {})) for col in variables)
      rows.append((name, type(module).__name__, tuple(out.shape), params))
    return out

  with nn.intercept_methods(interceptor):
    jax.eval_shape(lambda v: model.apply(v, x, train=False), variables)
  return rows, variables


def format_summary(name: str, model: nn.Module, image_shape: Sequence[int]) -> str:
  rows, variables = layer_table(model, image_shape)
  total = count(variables)
  # Parameters the model fits from data and keeps fixed (airbench's whitening
  # conv) are non-trainable, as Keras counts a layer with trainable=False.
  frozen = re.compile(models.frozen_params(model) or r'(?!)')
  trainable = sum(leaf.size for path, leaf in jax.tree_util.tree_leaves_with_path(
      variables.get('params', {})) if not frozen.search(optimizers.path_name(path)))
  width = 74
  lines = [f'Model: "{name}"  input {tuple(image_shape)}', '=' * width,
           f'{"Layer (type)":<34}{"Output Shape":<26}{"Param #":>14}', '=' * width]
  for path, kind, shape, params in rows:
    shape = '(None, ' + ', '.join(map(str, shape[1:])) + ')'
    lines.append(f'{path + " (" + kind + ")":<34}{shape:<26}{params:>14,}')
  lines += ['=' * width, f'Total params: {total:,}', f'Trainable params: {trainable:,}',
            f'Non-trainable params: {total - trainable:,}', '_' * width]
  return '\n'.join(lines)


def main(argv):
  del argv
  config = FLAGS.config

  def run():
    name = FLAGS.model or config.model.name
    if FLAGS.image_shape:
      try:
        shape = tuple(int(v) for v in FLAGS.image_shape.split(','))
        assert len(shape) == 3
      except (ValueError, AssertionError) as e:
        raise UserError(f'--image_shape={FLAGS.image_shape!r}: give H,W,C, e.g. 32,32,3') from e
    else:
      shape = DATASET_SHAPES.get(config.data.name, (32, 32, 3))
      if config.data.image_size:
        shape = (config.data.image_size,) * 2 + shape[2:]
      if config.data.channels:
        shape = shape[:2] + (config.data.channels,)
    options = models.model_options(config.model) if name == config.model.name else {}
    model = models.create_model(name, FLAGS.num_classes or 10, **options)
    print(format_summary(name, model, shape))

  cli.run_main(run)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
