r"""Train-step throughput on CPU: cnnlab's real train step vs Keras 3 `fit`.

  python benchmarks/throughput.py                      # vgg and resnet20, batch 128
  python benchmarks/throughput.py --models=vgg --trials=9 --variants=default,cnnlab

Each contender runs in its own worker process (XLA reads XLA_FLAGS once per
process, and TensorFlow and JAX must not share threads): cnnlab with each XLA
flag variant, and Keras 3 on TensorFlow. Every worker builds its model, compiles
and warms up, then waits; the parent asks them in turn, trial after trial
(shuffled order each trial), to time `--steps` steps. So a burst of load on a
shared machine hits every contender alike; we report medians over trials and the
median of the per-trial ratios cnnlab / Keras.

cnnlab side: `cnnlab.steps.train_step` jitted as the train loop jits it
(functools.partial with the pipeline, donate_argnums=0), on the loop's default
single-process path (`gather_train_step`: the uint8 training set resident on
device, batches gathered by index) or, with --paths=host, batches built on the
host with `parallel.global_batch` each step. Optimizer, schedule and model come
from configs/vgg.py (Adam 1e-3) and configs/resnet.py (SGD Nesterov, cosine).
Keras side: the same layers (`build_keras`), same optimizer, float32 images in
[0, 1] (what a Keras user feeds), `fit(batch_size=128)`; the time is taken
from the start of the second batch to the end of the epoch by a callback, so
fit's per-call setup is not charged to Keras.

Data: random uint8 images 32x32x3 and 10 random labels (throughput does not
depend on values). Results and the flags studied: benchmarks/throughput_results.md.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CLASSES = 10
IMAGE_SHAPE = (32, 32, 3)
CONFIGS = {'vgg': 'vgg', 'resnet20': 'resnet'}  # model -> configs/<file>.py

# Named XLA flag sets for cnnlab workers. 'cnnlab' is whatever
# cnnlab.core.xla_flags.set_cpu_defaults() adds (the shipped default); the others are
# set verbatim with cnnlab's defaults off.
YNN_NO_CONV = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'
VARIANTS = {
    'default': '',  # XLA's own defaults (what a bare JAX user gets)
    'cnnlab': None,
    'ynn_no_conv': YNN_NO_CONV,
    'ynn_no_conv_dot': '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution,'
                       '-individual_dot',
    'onednn_conv': YNN_NO_CONV + ' --xla_cpu_experimental_onednn_fusion_type='
                                 'individual_convolution',
    'onednn': '--xla_cpu_use_onednn=true',
    'onednn_all': '--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true '
                  '--xla_cpu_use_xnnpack=false --xla_cpu_experimental_ynn_fusion_type=',
    'xnn_off': YNN_NO_CONV + ' --xla_cpu_use_xnnpack=false',
    'single_thread': YNN_NO_CONV + ' --xla_cpu_multi_thread_eigen=false',
    'conc_sched': YNN_NO_CONV + ' --xla_cpu_enable_concurrency_optimized_scheduler=true',
}


# ---- workers ------------------------------------------------------------------------

def _random_data(n, seed=0):
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n,) + IMAGE_SHAPE, dtype=np.uint8)
  labels = rng.integers(0, NUM_CLASSES, n).astype(np.int32)
  return images, labels


def _serve(run_steps, describe):
  """Worker loop: 'ready' + description, then one elapsed time per 'run' line."""
  print(json.dumps({'ready': True, **describe}), flush=True)
  for line in sys.stdin:
    if line.strip() != 'run':
      break
    print(json.dumps({'seconds': run_steps()}), flush=True)


def reduce_window_max_pool(x, window):
  """flax's nn.max_pool (reduce_window), what models.max_pool replaced: its gradient
  is select_and_scatter, which XLA:CPU lowers to a slow scatter."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  return nn.max_pool(x, (window, window), strides=(window, window))


def cnnlab_worker(model_name, batch_size, steps, path, pool='reshape'):
  """Times `steps` steps of cnnlab's jitted train step per request."""
  from cnnlab.core import xla_flags  # pylint: disable=g-import-not-at-top
  xla_flags.set_cpu_defaults()  # as cnnlab.main does (a no-op for explicit variants)
  if pool == 'reduce_window':
    from cnnlab import models as cnnlab_models  # pylint: disable=g-import-not-at-top
    cnnlab_models.max_pool = reduce_window_max_pool  # looked up at trace time
  import functools  # pylint: disable=g-import-not-at-top
  import importlib  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from cnnlab import augment, models, optimizers, steps as steps_lib  # pylint: disable=g-import-not-at-top
  from cnnlab.core import parallel  # pylint: disable=g-import-not-at-top

  config = importlib.import_module(f'configs.{CONFIGS[model_name]}').get_config()
  n = batch_size * steps
  images, labels = _random_data(n)
  mesh = parallel.create_mesh()
  model = models.create_model(model_name, NUM_CLASSES)
  pipeline = augment.create_pipeline(config.augment)
  tx = optimizers.create_optimizer(config, steps, 100 * steps)
  init_rng, rng = jax.random.split(jax.random.key(0))
  state = steps_lib.create_train_state(init_rng, model, IMAGE_SHAPE, tx, pipeline.fit(images))
  state = parallel.replicate(state, mesh)
  params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  params += sum(x.size for x in jax.tree_util.tree_leaves(state.batch_stats))
  kwargs = dict(pipeline=pipeline, label_smoothing=config.label_smoothing)
  if path == 'device':
    data = parallel.replicate({'image': images, 'label': labels}, mesh)
    step_fn = jax.jit(functools.partial(steps_lib.gather_train_step, **kwargs), donate_argnums=0)
  else:
    step_fn = jax.jit(functools.partial(steps_lib.train_step, **kwargs), donate_argnums=0)
  rows = parallel.process_rows(batch_size, mesh)
  holder = {'state': state, 'epoch': 0}

  def run_steps():
    order = np.random.default_rng(holder['epoch']).permutation(n)
    holder['epoch'] += 1
    s = holder['state']
    start = time.perf_counter()
    metrics = []
    for i in range(steps):
      idx = order[i * batch_size:(i + 1) * batch_size]
      if path == 'device':
        s, m = step_fn(s, data, parallel.global_batch({'i': idx.astype(np.int32)}, mesh)['i'],
                       rng)
      else:
        local = idx[rows[0]:rows[1]]
        s, m = step_fn(s, parallel.global_batch(
            {'image': images[local], 'label': labels[local]}, mesh), rng)
      metrics.append(m)
    jax.block_until_ready((s, metrics))
    holder['state'] = s
    return time.perf_counter() - start

  run_steps()  # compile + warm-up
  _serve(run_steps, {'params': int(params), 'xla_flags': os.environ.get('XLA_FLAGS', ''),
                     'devices': jax.device_count()})


def build_keras(model_name):
  """The cnnlab model `model_name` as a Keras 3 model (same layers and shapes)."""
  import keras  # pylint: disable=g-import-not-at-top
  from keras import layers  # pylint: disable=g-import-not-at-top
  if model_name == 'vgg':
    model = keras.Sequential([keras.Input(IMAGE_SHAPE)])
    for width, convs in ((32, 2), (64, 2), (128, 3)):
      for _ in range(convs):
        model.add(layers.Conv2D(width, 3, padding='same', activation='relu'))
      model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(100, activation='relu'))
    model.add(layers.Dense(NUM_CLASSES))
    return model
  if model_name == 'resnet20':
    ops = keras.ops
    conv = lambda w, s=1: layers.Conv2D(w, 3, s, padding='same', use_bias=False,
                                        kernel_initializer='he_normal')
    norm = lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    inputs = keras.Input(IMAGE_SHAPE)
    x = layers.ReLU()(norm()(conv(16)(inputs)))
    for stage, width in enumerate((16, 32, 64)):
      for block in range(3):
        strides = 2 if stage > 0 and block == 0 else 1
        y = layers.ReLU()(norm()(conv(width, strides)(x)))
        y = norm()(conv(width)(y))
        if strides != 1 or x.shape[-1] != width:  # option A: subsample, zero-pad channels
          extra = width - x.shape[-1]
          x = layers.Lambda(lambda t, s=strides, e=extra: ops.pad(
              t[:, ::s, ::s, :], [[0, 0], [0, 0], [0, 0], [e // 2, e - e // 2]]))(x)
        x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES)(x))
  raise ValueError(f'no Keras twin for {model_name!r}')


def keras_worker(model_name, batch_size, steps, jit_compile):
  """Times Keras `fit` over `steps` batches per request (from batch 2 on)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  images, labels = _random_data(batch_size * steps)
  x = images.astype(np.float32) / 255.0
  model = build_keras(model_name)
  if model_name == 'vgg':
    optimizer = keras.optimizers.Adam(1e-3)
  else:
    optimizer = keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.1, 100 * steps),
                                     momentum=0.9, nesterov=True)
  kwargs = {} if jit_compile == 'auto' else {'jit_compile': jit_compile == 'true'}
  model.compile(optimizer=optimizer, metrics=['accuracy'],
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), **kwargs)

  class Clock(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
      if batch == 1:
        self.start = time.perf_counter()

    def on_train_end(self, logs=None):
      self.seconds = time.perf_counter() - self.start

  def run_steps():
    clock = Clock()
    model.fit(x, labels, batch_size=batch_size, epochs=1, verbose=0, shuffle=True,
              callbacks=[clock])
    return clock.seconds * steps / (steps - 1)  # per `steps` steps, as cnnlab's

  run_steps()  # trace/compile + warm-up
  _serve(run_steps, {'params': int(model.count_params()), 'keras': keras.__version__,
                     'tensorflow': tf.__version__,
                     'jit_compile': bool(getattr(model, 'jit_compile', False)),
                     'intra_op_threads': tf.config.threading.get_intra_op_parallelism_threads()})


# ---- parent ---------------------------------------------------------------------------

class Worker:
  """A worker process: start, wait until ready, time trials on request."""

  def __init__(self, name, argv, env):
    self.name, self.argv, self.env, self.times, self.proc = name, argv, env, [], None

  def ready(self):
    """Starts the worker and waits until it has compiled and warmed up."""
    self.proc = subprocess.Popen([sys.executable, __file__] + self.argv, cwd=REPO,
                                 env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
    while True:
      line = self.proc.stdout.readline()
      if not line:
        raise RuntimeError(f'worker {self.name} died before it was ready')
      if line.startswith('{'):
        self.info = json.loads(line)
        return self.info

  def trial(self):
    self.proc.stdin.write('run\n')
    self.proc.stdin.flush()
    while True:
      line = self.proc.stdout.readline()
      if not line:
        raise RuntimeError(f'worker {self.name} died')
      if line.startswith('{'):
        seconds = json.loads(line)['seconds']
        self.times.append(seconds)
        return seconds

  def close(self):
    if self.proc is not None and self.proc.poll() is None:
      self.proc.stdin.close()
      try:
        self.proc.wait(timeout=30)
      except subprocess.TimeoutExpired:
        self.proc.kill()


def _env(variant, threads):
  """Worker environment: the variant's XLA_FLAGS, or cnnlab's own defaults."""
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu', TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('XLA_FLAGS', None)
  env.pop('CNNLAB_XLA_DEFAULTS', None)
  if variant is not None and VARIANTS[variant] is not None:
    env['XLA_FLAGS'] = VARIANTS[variant]
    env['CNNLAB_XLA_DEFAULTS'] = '0'
  if threads:
    env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads))
  return env


def benchmark(model_name, args):
  """Runs every contender for model_name interleaved; returns a result dict."""
  base = ['--worker', f'--models={model_name}', f'--batch_size={args.batch_size}',
          f'--steps={args.steps}']
  workers = []
  for variant in args.variants.split(','):
    for path in args.paths.split(','):
      for pool in args.pools.split(','):
        name = f'cnnlab[{variant},{path}' + (f',pool={pool}]' if pool != 'reshape' else ']')
        workers.append(Worker(name, base + ['--kind=cnnlab', f'--paths={path}',
                                            f'--pools={pool}'], _env(variant, args.threads)))
  for jit in args.keras_jit.split(','):
    workers.append(Worker(f'keras[jit={jit}]', base + ['--kind=keras', f'--keras_jit={jit}'],
                          _env(None, args.threads)))
  try:
    for w in workers:  # one at a time: compiles neither overlap nor crowd the machine
      info = w.ready()
      print(f'  ready {w.name}: {info}', flush=True)
    for t in range(args.trials):
      order = list(workers)
      random.Random(t).shuffle(order)
      for w in order:
        w.trial()
      print(f'  trial {t + 1}/{args.trials}: ' + ', '.join(
          f'{w.name} {args.batch_size * args.steps / w.times[-1]:.0f}' for w in workers),
            flush=True)
  finally:
    for w in workers:
      w.close()

  images = args.batch_size * args.steps
  keras_workers = [w for w in workers if w.name.startswith('keras')]
  reference = keras_workers[0]
  rows = []
  for w in workers:
    rate = statistics.median(images / s for s in w.times)
    paired = statistics.median(r / s for s, r in zip(w.times, reference.times))
    rows.append({'name': w.name, 'images_per_sec': rate, 'ratio_vs_keras': paired,
                 'trials': [round(images / s, 1) for s in w.times], 'info': w.info})
  return {'model': model_name, 'batch_size': args.batch_size, 'steps': args.steps,
          'trials': args.trials, 'rows': rows}


def print_table(result):
  print(f"\n{result['model']}  batch {result['batch_size']}, {result['steps']} steps x "
        f"{result['trials']} interleaved trials (median images/s; ratio = median of "
        "per-trial cnnlab/keras)")
  print(f"{'contender':34s} {'img/s':>7s} {'vs keras':>9s}  params")
  for r in result['rows']:
    print(f"{r['name']:34s} {r['images_per_sec']:7.0f} {r['ratio_vs_keras']:9.2f}  "
          f"{r['info'].get('params')}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--models', default='vgg,resnet20')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=10, help='steps per timed trial')
  parser.add_argument('--trials', type=int, default=7)
  parser.add_argument('--variants', default='default,cnnlab',
                      help=f'cnnlab XLA flag sets, from: {",".join(VARIANTS)}')
  parser.add_argument('--paths', default='device', help='device (loop default), host')
  parser.add_argument('--pools', default='reshape',
                      help='reshape (models.max_pool, the default), reduce_window (flax '
                           'nn.max_pool, the earlier default)')
  parser.add_argument('--keras_jit', default='auto', help='auto,false,true')
  parser.add_argument('--threads', type=int, default=0,
                      help='OMP/TF intra-op threads (0 = library defaults)')
  parser.add_argument('--json', default='', help='also write the results here')
  # Internal: worker mode.
  parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--kind', default='', help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args.worker:
    if args.kind == 'cnnlab':
      cnnlab_worker(args.models, args.batch_size, args.steps, args.paths, args.pools)
    else:
      keras_worker(args.models, args.batch_size, args.steps, args.keras_jit)
    return

  print(f'{os.cpu_count()} CPU(s); load average {os.getloadavg()}', flush=True)
  results = []
  for model_name in args.models.split(','):
    print(f'{model_name}:', flush=True)
    result = benchmark(model_name, args)
    print_table(result)
    results.append(result)
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'load_average': os.getloadavg(), 'results': results}, f, indent=1)


if __name__ == '__main__':
  main()
