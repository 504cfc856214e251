r"""Draws training images next to augmented versions of them, to check the spec by eye.

  python -m cnnlab.augment_preview --config=configs/vgg.py --out=augmented.png \
      --config.augment='flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)'
  python -m cnnlab.augment_preview --list_ops   # every op and its arguments

Each row is one training image (labelled with its class) followed by
--num_draws augmented draws of it, made by the same jittable code the train
step runs (seed 003's `plot_augmented_data`). Look for: rotations turning both
ways, shear leaning, fill at the borders as the fill_mode says, elastic looking
like handwriting wobble. After normalization ops (samplewise / featurewise /
ZCA) the pixels are no longer in [0, 1], so each such image is min-max
stretched for display (--nonormalize shows the draws before those ops), and
the featurewise statistics are fitted first, on at most --fit_examples
training images.
"""
import dataclasses
from typing import List, Sequence

from absl import flags
import jax
import numpy as np

from cnnlab import augment
from cnnlab import input_pipeline
from cnnlab.core import cli
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config()
  flags.DEFINE_string('out', 'augmented.png', 'Where to write the PNG grid.')
  flags.DEFINE_integer('num_images', 8, 'Training images shown (rows), classes in turn.')
  flags.DEFINE_integer('num_draws', 6, 'Augmented draws per image (columns after the original).')
  flags.DEFINE_integer('seed', None, 'Picks images and draws; default: config.seed.')
  flags.DEFINE_integer('fit_examples', 10000,
                       'Training images the featurewise statistics are fitted on (preview only).')
  flags.DEFINE_bool('normalize', True,
                    'Show the draws after the normalization ops (what the model sees); '
                    '--nonormalize shows them before, on the [0, 1] scale.')
  flags.DEFINE_bool('list_ops', False, 'Print the augmentation ops and their arguments, then exit.')


def pick_examples(labels, num_images: int, seed: int) -> List[int]:
  """Indices of num_images examples, cycling over classes, random within each."""
  rng = np.random.default_rng(seed)
  by_class = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
  picked = []
  while len(picked) < min(num_images, len(labels)):
    for members in by_class:
      if members and len(picked) < num_images:
        picked.append(int(members.pop()))
  return picked


def augmented_draws(pipeline, images, stats, rng, num_draws: int):
  """(originals [N,H,W,C], draws [N,num_draws,H,W,C]) as floats for display.

  Originals are the images scaled to [0, 1]; draws are pipeline.train outputs.
  """
  repeated = np.repeat(images, num_draws, axis=0)
  draws = np.asarray(jax.jit(pipeline.train)(rng, repeated, stats))
  draws = draws.reshape((len(images), num_draws) + images.shape[1:])
  return images.astype(np.float32) / 255.0, draws


def displayable(image):
  """Float [H,W,C] -> [0, 1] for imshow; stretched only when outside [0, 1]."""
  lo, hi = float(image.min()), float(image.max())
  if lo >= 0.0 and hi <= 1.0:
    return image
  return (image - lo) / max(hi - lo, 1e-12)


def plot_grid(originals, draws, titles: Sequence[str], spec: str):
  """A matplotlib figure: one row per image, the original first."""
  import matplotlib  # pylint: disable=g-import-not-at-top  (~0.5 s: only to draw)
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top  (after the Agg backend)
  rows, cols = draws.shape[0], draws.shape[1] + 1
  # Constrained layout keeps room for the suptitle (tight_layout ignores it,
  # and the title then runs into the first row's labels).
  fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.5 * rows + 0.4), squeeze=False,
                           layout='constrained')
  for r in range(rows):
    row_images = [originals[r]] + [draws[r, d] for d in range(draws.shape[1])]
    for c, image in enumerate(row_images):
      ax = axes[r, c]
      image = displayable(image)
      if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
      else:
        ax.imshow(image, interpolation='nearest')
      ax.set_xticks([])
      ax.set_yticks([])
      if c == 0:
        ax.set_title(titles[r], fontsize=8)
      elif r == 0:
        ax.set_title(f'draw {c}', fontsize=8)
  fig.suptitle(f'augment: {spec or "(none)"}', fontsize=9, wrap=True)
  return fig


def write_preview(config, out: str, num_images: int = 8, num_draws: int = 6, seed=None,
                  fit_examples: int = 10000, normalize: bool = True) -> str:
  """Loads the training split of `config`, augments and saves the grid to `out`."""
  if num_images < 1 or num_draws < 1:
    raise UserError('--num_images and --num_draws must be at least 1')
  seed = config.seed if seed is None else seed
  pipeline = augment.create_pipeline(config.augment)
  if not normalize:
    pipeline = dataclasses.replace(pipeline, normalizers=())
  train, _ = input_pipeline.load_splits(config)
  stats = pipeline.fit(train.images[:fit_examples]) if fit_examples > 0 else pipeline.fit(
      train.images)
  picked = pick_examples(train.labels, num_images, seed)
  originals, draws = augmented_draws(pipeline, train.images[picked], stats,
                                     jax.random.key(seed), num_draws)
  titles = [str(train.class_names[train.labels[i]]) for i in picked]
  fig = plot_grid(originals, draws, titles, config.augment)
  fig.savefig(out, dpi=100)
  return out


def main(argv):
  def run():
    if FLAGS.list_ops:
      print(augment.describe_ops())
      return
    path = write_preview(FLAGS.config, FLAGS.out, FLAGS.num_images, FLAGS.num_draws,
                         FLAGS.seed, FLAGS.fit_examples, FLAGS.normalize)
    print(f'wrote {path}')

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
