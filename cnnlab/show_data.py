r"""Ten random images per class of a config's data: a first look before training.

  python -m cnnlab.show_data --config=configs/vgg.py --out=samples.png
  python -m cnnlab.show_data --config=configs/vgg.py --config.data.dir=path/to/folder \
      --split=val --per_class=8 --seed=1

Loads the data exactly as training will (the same source, decoding, channels
and, with --split=train|val, the same seeded split), prints its shape and the
images per class, and draws one row per class, labelled with the class name
and its number of images.
"""
from absl import flags
import numpy as np

from cnnlab import input_pipeline
from cnnlab.core import cli
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config(lock_config=False)
  flags.DEFINE_string('out', 'samples.png', 'PNG to write.')
  flags.DEFINE_integer('per_class', 10, 'Images per class.')
  flags.DEFINE_integer('seed', 0, 'Which random images.')
  flags.DEFINE_enum('split', 'all', ['all', 'train', 'val'],
                    'all = every image of the source; train/val = the run\'s seeded split.')


def load(config, split: str):
  if split == 'all':
    return input_pipeline.load_dataset(config.data, 'train')
  train, val = input_pipeline.load_splits(config)
  return train if split == 'train' else val


def describe(dataset, source: str) -> str:
  """A short text summary: size, shape, pixel range, images per class."""
  counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
  h, w, c = dataset.image_shape
  lines = [f'{source}: {len(dataset.labels):,} images {h}x{w}x{c} uint8, '
           f'{dataset.num_classes} classes, pixel mean {dataset.images.mean():.1f}']
  width = max(len(str(n)) for n in dataset.class_names)
  for name, value, count in zip(dataset.class_names, dataset.label_values, counts):
    shown = '' if str(value) == str(name) else f' (label {value})'
    lines.append(f'  {str(name):<{width}}{shown}  {count:>7,}')
  return '\n'.join(lines)


def main(argv):
  def run():
    from cnnlab import figures  # pylint: disable=g-import-not-at-top  (matplotlib: ~0.5 s)
    if FLAGS.per_class < 1:
      raise UserError(f'--per_class={FLAGS.per_class}: show at least 1 image per class')
    config = FLAGS.config
    dataset = load(config, FLAGS.split)
    source = config.data.dir or config.data.name
    if FLAGS.split != 'all':
      source += f' ({FLAGS.split} split)'
    print(describe(dataset, source))
    h, w, c = dataset.image_shape
    title = (f'{source}: {len(dataset.labels):,} images {h}x{w}x{c}, '
             f'{FLAGS.per_class} random per class (seed {FLAGS.seed})')
    fig = figures.samples_figure(dataset.images, dataset.labels, dataset.class_names,
                                 FLAGS.per_class, FLAGS.seed, title)
    print(f'-> {figures.save(fig, FLAGS.out)}')

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
