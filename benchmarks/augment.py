r"""Speed of on-device augmentation (issue 3), beside Keras' ImageDataGenerator.

  python benchmarks/augment.py --out=benchmarks/augment_results.md

For each augmentation spec, on the same 128 CIFAR-10 images:
  * the cnnlab pipeline alone (jitted `Pipeline.train`, batch 128): images/s;
  * the seed VGG train step (cnnlab.steps.train_step, configs/vgg.py's model
    and Adam, batch 128) with that spec, against the same step with no
    augmentation: ms per step and the slowdown;
  * Keras' ImageDataGenerator.flow with the same transforms (seed 003's
    elastic as a scipy preprocessing_function): host images/s and the host
    time one batch of 128 costs, which a training loop feeding from it waits
    for unless it overlaps that work;
  * the one-off fit of featurewise statistics and ZCA, cnnlab vs Keras' fit.

Step times are medians over --repeats rounds that visit every spec in turn,
so background load on a shared machine hits all specs alike.
"""
# cnnlab's CPU XLA flags, as training uses them, before JAX starts.
from cnnlab.core import xla_flags  # pylint: disable=g-bad-import-order
xla_flags.set_cpu_defaults()

import datetime  # pylint: disable=g-import-not-at-top,g-bad-import-order
import functools
import os
import platform
import statistics
import time

from absl import app
from absl import flags
import jax
import numpy as np
import optax
from PIL import Image

from cnnlab import augment
from cnnlab import models
from cnnlab import steps

FLAGS = flags.FLAGS
flags.DEFINE_string('data_dir', '../shared/datasets/cifar10/train', 'CIFAR-10 image folder.')
flags.DEFINE_integer('batch_size', 128, 'Images per batch.')
flags.DEFINE_integer('steps', 8, 'Timed train steps per spec and round.')
flags.DEFINE_integer('pipeline_iters', 20, 'Timed pipeline-only batches per spec and round.')
flags.DEFINE_integer('repeats', 3, 'Rounds over all specs (medians are reported).')
flags.DEFINE_integer('keras_batches', 3, 'Batches drawn from ImageDataGenerator.flow per spec.')
flags.DEFINE_integer('fit_examples', 5000, 'Images for timing the featurewise / ZCA fit; 0 = skip.')
flags.DEFINE_string('out', '', 'Write the markdown table here too.')

# (label, cnnlab spec, ImageDataGenerator kwargs or None when Keras has no equivalent).
# Keras applies width/height shifts swapped (see cnnlab.augment); equal ranges hide it.
_KERAS_AFFINE = dict(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1,
                     zoom_range=0.2, rotation_range=8, shear_range=0.3)
CASES = [
    ('none', '', {}),
    ('flip + shift', 'flip_lr|translate(0.1)',
     dict(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1)),
    ('seed 003 affine', 'flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)', _KERAS_AFFINE),
    ('seed 003 + elastic',
     'flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)',
     dict(_KERAS_AFFINE, preprocessing_function='elastic')),
    ('airbench crop + flip + cutout', 'pad_crop(4)|flip_lr|cutout(8)', None),
    ('+ featurewise center/std', 'flip_lr|translate(0.1)|featurewise_center|featurewise_std',
     dict(horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1,
          featurewise_center=True, featurewise_std_normalization=True)),
]


def load_images(root: str, n: int):
  """n images from the folder, classes in turn; uint8 [n, H, W, C] and int labels."""
  classes = sorted(os.listdir(root))
  files = [sorted(os.listdir(os.path.join(root, c))) for c in classes]
  images, labels = [], []
  for i in range(n):
    c = i % len(classes)
    path = os.path.join(root, classes[c], files[c][i // len(classes)])
    images.append(np.asarray(Image.open(path).convert('RGB')))
    labels.append(c)
  return np.stack(images), np.asarray(labels, np.int32)


def scipy_elastic(image, alpha=34.0, sigma=4.0, rng=np.random):
  """Seed 003's elastic distortion of one [H, W, C] image (Simard et al. 2003)."""
  from scipy.ndimage import gaussian_filter, map_coordinates  # pylint: disable=g-import-not-at-top
  height, width = image.shape[:2]
  dy = gaussian_filter(rng.uniform(-1, 1, (height, width)), sigma) * alpha
  dx = gaussian_filter(rng.uniform(-1, 1, (height, width)), sigma) * alpha
  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  coords = [rows + dy, cols + dx]
  return np.stack([map_coordinates(image[..., c], coords, order=1, mode='reflect')
                   for c in range(image.shape[-1])], -1)


def _mean_time(fn, iters: int):
  """(wall, CPU) seconds per call. CPU time (all threads of this process) is
  what a call costs, whatever else the machine is running; wall time is what
  it takes here and now."""
  start, cpu = time.perf_counter(), time.process_time()
  for i in range(iters):
    fn(i)
  return (time.perf_counter() - start) / iters, (time.process_time() - cpu) / iters


def _medians(pairs):
  return tuple(statistics.median(p[k] for p in pairs) for k in range(2))


def time_cnnlab(images, labels):
  """{label: ((wall, cpu) s per pipeline batch, (wall, cpu) s per train step)}, medians."""
  model = models.MODELS.get('vgg')(num_classes=10)
  tx = optax.adam(1e-3)
  rng = jax.random.key(0)
  runners = {}
  for label, spec, _ in CASES:
    pipeline = augment.create_pipeline(spec)
    stats = pipeline.fit(images)
    state = steps.create_train_state(rng, model, images.shape[1:], tx, input_stats=stats)
    step = jax.jit(functools.partial(steps.train_step, pipeline=pipeline), donate_argnums=0)
    aug = jax.jit(pipeline.train)
    batch = {'image': jax.device_put(images), 'label': jax.device_put(labels)}
    holder = {'state': state}

    def run_step(i, step=step, batch=batch, holder=holder):
      holder['state'], metrics = step(holder['state'], batch, jax.random.key(i))
      jax.block_until_ready(metrics)

    def run_aug(i, aug=aug, batch=batch, stats=stats):
      jax.block_until_ready(aug(jax.random.key(i), batch['image'], stats))

    for i in range(2):  # compile and warm up
      run_step(i)
      run_aug(i)
    runners[label] = (run_aug, run_step)
  times = {label: ([], []) for label in runners}
  for _ in range(FLAGS.repeats):
    for label, (run_aug, run_step) in runners.items():
      times[label][0].append(_mean_time(run_aug, FLAGS.pipeline_iters))
      times[label][1].append(_mean_time(run_step, FLAGS.steps))
  return {label: (_medians(a), _medians(s)) for label, (a, s) in times.items()}


def time_keras(images, labels):
  """{label: host seconds per batch} for ImageDataGenerator.flow."""
  # pylint: disable-next=g-import-not-at-top
  from keras.src.legacy.preprocessing.image import ImageDataGenerator
  results = {}
  for label, _, kwargs in CASES:
    if kwargs is None:
      continue
    kwargs = dict(kwargs)
    if kwargs.get('preprocessing_function') == 'elastic':
      kwargs['preprocessing_function'] = scipy_elastic
    gen = ImageDataGenerator(rescale=1 / 255.0, **kwargs)
    x = images.astype(np.float32)
    if gen.featurewise_center or gen.featurewise_std_normalization:
      gen.fit(x)
    flow = gen.flow(x, labels, batch_size=FLAGS.batch_size, seed=0)
    next(flow)
    results[label] = _mean_time(lambda i, flow=flow: next(flow), FLAGS.keras_batches)[0]
  return results


def time_fits(images):
  """[(what, cnnlab seconds, Keras seconds)] for fitting the normalization stats."""
  # pylint: disable-next=g-import-not-at-top
  from keras.src.legacy.preprocessing.image import ImageDataGenerator
  rows = []
  for spec, kwargs in (('featurewise_center|featurewise_std',
                        dict(featurewise_center=True, featurewise_std_normalization=True)),
                       ('zca', dict(zca_whitening=True))):
    pipeline = augment.create_pipeline(spec)
    start = time.perf_counter()
    pipeline.fit(images)
    ours = time.perf_counter() - start
    gen = ImageDataGenerator(rescale=1 / 255.0, **kwargs)
    start = time.perf_counter()
    gen.fit(images.astype(np.float32))
    rows.append((spec, ours, time.perf_counter() - start))
  return rows


def machine() -> str:
  cpu = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
  except (OSError, StopIteration):
    pass
  load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
  return f'{cpu}, {os.cpu_count()} cores, load average {load:.1f} at start'


def _cell(spec: str) -> str:
  """A spec inside a markdown table cell: its '|' must not end the cell."""
  return spec.replace('|', '\\|')


def main(argv):
  del argv
  header = (f'{datetime.date.today()}, {machine()}; jax {jax.__version__} on '
            f'{jax.devices()[0].platform}; batch {FLAGS.batch_size}, {FLAGS.repeats} rounds x '
            f'{FLAGS.steps} steps / {FLAGS.pipeline_iters} pipeline batches (medians), '
            f'Keras {FLAGS.keras_batches} batches.')
  print(header)
  images, labels = load_images(FLAGS.data_dir, FLAGS.batch_size)
  cnnlab_times = time_cnnlab(images, labels)
  keras_times = time_keras(images, labels)
  base_wall, base_cpu = cnnlab_times['none'][1]
  bs = FLAGS.batch_size
  lines = [
      '| augmentation | cnnlab spec | cnnlab pipeline img/s (ms / batch) | '
      'Keras flow img/s (ms / batch) | cnnlab / Keras | '
      'VGG step CPU ms (measured slowdown) | pipeline CPU / step CPU | VGG step wall ms |',
      '|---|---|---:|---:|---:|---:|---:|---:|']
  for label, spec, _ in CASES:
    (aug_wall, aug_cpu), (step_wall, step_cpu) = cnnlab_times[label]
    keras_s = keras_times.get(label)
    keras_cols = (f'{bs / keras_s:,.0f} ({keras_s * 1e3:,.0f}) | {keras_s / aug_wall:,.0f}x'
                  if keras_s is not None else 'n/a | n/a')
    lines.append(
        f'| {label} | `{_cell(spec)}` | {bs / aug_wall:,.0f} ({aug_wall * 1e3:.1f}) | '
        f'{keras_cols} | '
        f'{step_cpu * 1e3:.0f} ({(step_cpu / base_cpu - 1) * 100:+.1f}%) | '
        f'{aug_cpu / base_cpu * 100:.1f}% | {step_wall * 1e3:.0f} |')
  table = '\n'.join(lines)
  if FLAGS.fit_examples:
    fit_images, _ = load_images(FLAGS.data_dir, FLAGS.fit_examples)
    fit_lines = [f'\nOne-off fit on {FLAGS.fit_examples:,} CIFAR-10 images (wall seconds):\n',
                 '| fitted ops | cnnlab Pipeline.fit | Keras ImageDataGenerator.fit |',
                 '|---|---:|---:|']
    for spec, ours, theirs in time_fits(fit_images):
      fit_lines.append(f'| `{_cell(spec)}` | {ours:.1f} | {theirs:.1f} |')
    table += '\n' + '\n'.join(fit_lines)
  print(table)
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      f.write(f'# Augmentation speed (benchmarks/augment.py)\n\n{header}\n\n{table}\n')


if __name__ == '__main__':
  app.run(main)
