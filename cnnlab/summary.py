r"""Prints a Keras-like summary of a config's model: layer, output shape, params.

  python -m cnnlab.summary --config=configs/vgg.py
  python -m cnnlab.summary --config=configs/vgg.py --config.model.name=resnet20
  python -m cnnlab.summary --model=fashion_deep --image_shape=28,28,1 --num_classes=5

Totals match Keras' model.summary(): BatchNorm moving statistics are counted
as non-trainable parameters.
"""
import os
import re
from typing import Any, List, Sequence, Tuple

from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp
from PIL import Image

from cnnlab import input_pipeline
from cnnlab import models
from cnnlab import official_datasets
from cnnlab import optimizers
from cnnlab.core import cli
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Flags of the command line only: importing the module (tests, other CLIs) defines none."""
  cli.define_config(lock_config=False)
  flags.DEFINE_string('model', '', 'A model name; overrides config.model.name.')
  flags.DEFINE_string('image_shape', '', 'H,W,C of the input; default from the config\'s data.')
  flags.DEFINE_integer('num_classes', 0, 'Classes; default from the config\'s data.')


def data_shape(data_config) -> Tuple[Tuple[int, int, int], int, str]:
  """(input shape, classes, where they came from) of the config's data, without training.

  The official sources (fashion_mnist, cifar10, ...) are known by name; an
  image folder gives its class folders and first image; other data that
  exists (an arrays file, an idx folder) is read; otherwise CIFAR-10's 32x32x3
  and 10 classes, said so.
  """
  source = official_datasets.SOURCES.get(data_config.name)
  if source is not None and source.image_shape:
    coarse = data_config.name == 'cifar100' and data_config.get('cifar100_labels') == 'coarse'
    shape, classes = source.image_shape, 20 if coarse else source.num_classes
    origin = f'data.name={data_config.name}'
  elif data_config.name == 'image_folder' and os.path.isdir(data_config.dir):
    # The class folders and the first image: decoding the whole folder is not needed.
    class_names, files = input_pipeline.list_image_folder(data_config.dir)
    with Image.open(files[0][0]) as first:
      shape = (first.height, first.width, 1 if first.mode in ('L', '1', 'I', 'F') else 3)
    classes, origin = len(class_names), f'{data_config.dir}: its class folders, first image'
  elif data_config.dir and os.path.exists(data_config.dir):
    dataset = input_pipeline.load_dataset(data_config, 'train')
    shape, classes, origin = dataset.image_shape, dataset.num_classes, data_config.dir
  else:
    shape, classes = (32, 32, 3), 10
    origin = (f'assumed: data.dir={data_config.dir!r} is not here; pass --image_shape and '
              '--num_classes')
  if data_config.image_size:
    shape = (data_config.image_size,) * 2 + tuple(shape[2:])
  if data_config.channels:
    shape = tuple(shape[:2]) + (data_config.channels,)
  return tuple(shape), classes, origin


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
  config = FLAGS.config

  def run():
    name = FLAGS.model or config.model.name
    if FLAGS.image_shape:
      try:
        shape = tuple(int(v) for v in FLAGS.image_shape.split(','))
        assert len(shape) == 3
      except (ValueError, AssertionError) as e:
        raise UserError(f'--image_shape={FLAGS.image_shape!r}: give H,W,C, e.g. 32,32,3') from e
    classes = FLAGS.num_classes
    if not (FLAGS.image_shape and classes):
      data_input, data_classes, origin = data_shape(config.data)
      shape = shape if FLAGS.image_shape else data_input
      classes = classes or data_classes
      print(f'Input {shape}, {classes} classes (from {origin})')
    options = models.model_options(config.model) if name == config.model.name else {}
    model = models.create_model(name, classes, **options)
    print(format_summary(name, model, shape))

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
