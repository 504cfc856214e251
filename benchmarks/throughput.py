r"""Train-step throughput on CPU: cnnlab's real train step vs Keras 3 and PyTorch.

  bash benchmarks/peers/setup.sh        # once: Keras, TensorFlow, PyTorch in their own venv
  python benchmarks/throughput.py                      # vgg and resnet20, batch 128
  python benchmarks/throughput.py --models=airbench_cpu --batch_size=512 \
      --computes=auto,onednn/xla/float32,eigen/im2col/float32,eigen/xla/bfloat16
  python benchmarks/throughput.py --models=vgg --trials=9 --variants=default,cnnlab

Contenders: cnnlab with each --computes spec (xla_cpu/conv/dtype, config.compute's
three fields; 'auto' = this CPU's rule) and each --variants XLA flag set, and the
--peers: keras (fp32 `fit`), keras_bf16 (policy mixed_bfloat16), torch (eager,
channels_last, fp32), torch_bf16 (eager, CPU autocast to bfloat16), torch_compile
(torch.compile of the fp32 step). Peers run under --peer_python (default: the
venv benchmarks/peers/setup.sh makes), never from cnnlab's dependencies. The
ratio column is cnnlab over the best peer (median of per-trial ratios).

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
AIRBENCH_WIDTHS = (64, 128, 256)  # configs/airbench_cpu.py
# model -> configs/<file>.py (model, optimizer and augmentation come from there)
CONFIGS = {'vgg': 'vgg', 'resnet20': 'resnet', 'airbench_cpu': 'airbench_cpu'}
PEERS = ('keras', 'keras_bf16', 'torch', 'torch_bf16', 'torch_compile')
PEER_PYTHON = os.path.join(REPO, 'benchmarks', 'peers', '.venv', 'bin', 'python')

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


def compute_spec(spec):
  """'auto' or 'xla_cpu/conv/dtype' (each part may be auto) -> config.compute fields."""
  parts = (spec.split('/') + ['auto'] * 3)[:3] if spec != 'auto' else ['auto'] * 3
  return dict(zip(('xla_cpu', 'conv', 'dtype'), parts))


def cnnlab_worker(model_name, batch_size, steps, path, pool='reshape', compute='auto'):
  """Times `steps` steps of cnnlab's jitted train step per request."""
  from cnnlab.core import machine, xla_flags  # pylint: disable=g-import-not-at-top
  choice = machine.resolve(compute_spec(compute))
  xla_flags.set_cpu_defaults(choice['xla_cpu'])  # as cnnlab's commands do (a no-op for variants)
  if pool == 'reduce_window':
    from cnnlab import models as cnnlab_models  # pylint: disable=g-import-not-at-top
    cnnlab_models.max_pool = reduce_window_max_pool  # looked up at trace time
  import functools  # pylint: disable=g-import-not-at-top
  import importlib  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from cnnlab import augment, lowering, models, optimizers, steps as steps_lib  # pylint: disable=g-import-not-at-top
  from cnnlab.core import parallel  # pylint: disable=g-import-not-at-top

  config = importlib.import_module(f'configs.{CONFIGS[model_name]}').get_config()
  n = batch_size * steps
  images, labels = _random_data(n)
  mesh = parallel.create_mesh()
  model = models.from_config(config.model, NUM_CLASSES)
  pipeline = augment.create_pipeline(config.augment)
  tx = optimizers.create_optimizer(config, steps, 100 * steps)
  init_rng, rng = jax.random.split(jax.random.key(0))
  state = steps_lib.create_train_state(init_rng, model, IMAGE_SHAPE, tx, pipeline.fit(images),
                                       lowering.Lowering(choice['conv'], choice['dtype']))
  state = parallel.replicate(state, mesh)
  params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  params += sum(x.size for x in jax.tree_util.tree_leaves(state.batch_stats))
  # steps_per_epoch: airbench's alternating flip derives the epoch from the step.
  kwargs = dict(pipeline=pipeline, label_smoothing=config.label_smoothing, steps_per_epoch=steps)
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
                     'devices': jax.device_count(), 'compute': choice})


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
    model.add(layers.Dense(NUM_CLASSES, dtype='float32'))  # float32 logits under mixed_bfloat16
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
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, dtype='float32')(x))
  if model_name == 'airbench_cpu':
    gelu = lambda: layers.Activation(lambda t: keras.activations.gelu(t, approximate=False))
    inputs = keras.Input(IMAGE_SHAPE)
    x = gelu()(layers.Conv2D(24, 2, padding='valid')(inputs))  # the 2x2 whitening conv
    for width in AIRBENCH_WIDTHS:
      for i in range(2):
        x = layers.Conv2D(width, 3, padding='same', use_bias=False)(x)
        if i == 0:
          x = layers.MaxPooling2D(2)(x)
        x = gelu()(layers.BatchNormalization(momentum=0.6, epsilon=1e-12, scale=False)(x))
    x = layers.Flatten()(layers.MaxPooling2D(3)(x))
    x = layers.Dense(NUM_CLASSES, use_bias=False, dtype='float32')(x)
    return keras.Model(inputs, layers.Rescaling(1 / 9, dtype='float32')(x))
  raise ValueError(f'no Keras twin for {model_name!r}')


def keras_worker(model_name, batch_size, steps, jit_compile, bf16=False):
  """Times Keras `fit` over `steps` batches per request (from batch 2 on)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  if bf16:
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  images, labels = _random_data(batch_size * steps)
  x = images.astype(np.float32) / 255.0
  model = build_keras(model_name)
  if model_name == 'vgg':
    optimizer = keras.optimizers.Adam(1e-3)
  elif model_name == 'airbench_cpu':
    optimizer = keras.optimizers.SGD(0.01, momentum=0.85, nesterov=True)
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
                     'policy': keras.mixed_precision.global_policy().name,
                     'tensorflow': tf.__version__,
                     'jit_compile': bool(getattr(model, 'jit_compile', False)),
                     'intra_op_threads': tf.config.threading.get_intra_op_parallelism_threads()})


def build_torch(model_name):
  """The cnnlab model `model_name` as a PyTorch module (same layers and shapes)."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  if model_name == 'vgg':
    layers, width_in = [], 3
    for width, convs in ((32, 2), (64, 2), (128, 3)):
      for _ in range(convs):
        layers += [nn.Conv2d(width_in, width, 3, padding=1), nn.ReLU()]
        width_in = width
      layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 16, 100), nn.ReLU(),
                         nn.Linear(100, NUM_CLASSES))
  if model_name == 'resnet20':
    class Block(nn.Module):
      def __init__(self, width_in, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(width_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.stride, self.extra = stride, width - width_in

      def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.stride != 1 or self.extra:  # option A: subsample, zero-pad channels
          x = nn.functional.pad(x[:, :, ::self.stride, ::self.stride],
                                (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return torch.relu(x + y)

    blocks, width_in = [], 16
    for stage, width in enumerate((16, 32, 64)):
      for block in range(3):
        blocks.append(Block(width_in, width, 2 if stage > 0 and block == 0 else 1))
        width_in = width
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, NUM_CLASSES))
  if model_name == 'airbench_cpu':
    layers, width_in = [nn.Conv2d(3, 24, 2), nn.GELU()], 24
    for width in AIRBENCH_WIDTHS:
      layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                 nn.BatchNorm2d(width, eps=1e-12, momentum=0.4), nn.GELU(),
                 nn.Conv2d(width, width, 3, padding=1, bias=False),
                 nn.BatchNorm2d(width, eps=1e-12, momentum=0.4), nn.GELU()]
      width_in = width
    for layer in layers:  # airbench's BN has no trained scale
      if isinstance(layer, nn.BatchNorm2d):
        layer.weight.requires_grad_(False)
    return nn.Sequential(*layers, nn.MaxPool2d(3), nn.Flatten(),
                         nn.Linear(width_in, NUM_CLASSES, bias=False))
  raise ValueError(f'no PyTorch twin for {model_name!r}')


def torch_worker(model_name, batch_size, steps, kind):
  """Times `steps` PyTorch train steps per request: kind torch, torch_bf16, torch_compile."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  images, labels = _random_data(batch_size * steps)
  images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(
      memory_format=torch.channels_last)  # NCHW view of NHWC memory
  labels = torch.from_numpy(labels).long()
  model = build_torch(model_name).to(memory_format=torch.channels_last)
  scale = 1 / 9 if model_name == 'airbench_cpu' else 1.0
  params = [p for p in model.parameters() if p.requires_grad]
  if model_name == 'vgg':
    optimizer = torch.optim.Adam(params, 1e-3)
  else:
    optimizer = torch.optim.SGD(params, 0.01, momentum=0.9, nesterov=True)
  loss_fn = torch.nn.CrossEntropyLoss()

  def step(x, y):
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=kind == 'torch_bf16'):
      logits = model(x.float() / 255.0) * scale
    loss = loss_fn(logits.float(), y)
    loss.backward()
    optimizer.step()
    return loss

  if kind == 'torch_compile':
    step = torch.compile(step)
  order_seed = [0]

  def run_steps():
    order = torch.from_numpy(np.random.default_rng(order_seed[0]).permutation(len(labels)))
    order_seed[0] += 1
    start = time.perf_counter()
    for i in range(steps):
      idx = order[i * batch_size:(i + 1) * batch_size]
      loss = step(images[idx].contiguous(memory_format=torch.channels_last), labels[idx])
    float(loss.detach())
    return time.perf_counter() - start

  run_steps()  # (compile and) warm up
  _serve(run_steps, {'params': sum(p.numel() for p in model.parameters()),
                     'torch': torch.__version__, 'threads': torch.get_num_threads()})


# ---- parent ---------------------------------------------------------------------------

class Worker:
  """A worker process: start, wait until ready, time trials on request."""

  def __init__(self, name, argv, env, python=sys.executable):
    self.name, self.argv, self.env, self.times, self.proc = name, argv, env, [], None
    self.python = python

  def ready(self):
    """Starts the worker and waits until it has compiled and warmed up."""
    self.proc = subprocess.Popen([self.python, __file__] + self.argv, cwd=REPO,
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


def peer_python(args):
  if args.peer_python:
    return args.peer_python
  return PEER_PYTHON if os.path.exists(PEER_PYTHON) else sys.executable


def benchmark(model_name, args):
  """Runs every contender for model_name interleaved; returns a result dict."""
  base = ['--worker', f'--models={model_name}', f'--batch_size={args.batch_size}',
          f'--steps={args.steps}']
  workers = []
  for compute in args.computes.split(','):
    for variant in args.variants.split(','):
      for path in args.paths.split(','):
        for pool in args.pools.split(','):
          name = f'cnnlab[{compute}' + (f',{variant}' if variant != 'cnnlab' else '')
          name += (f',{path}' if path != 'device' else '')
          name += (f',pool={pool}]' if pool != 'reshape' else ']')
          workers.append(Worker(name, base + ['--kind=cnnlab', f'--paths={path}',
                                              f'--pools={pool}', f'--computes={compute}'],
                                _env(variant, args.threads)))
  for peer in [p for p in args.peers.split(',') if p]:
    if peer not in PEERS:
      raise SystemExit(f'unknown peer {peer!r}: use {",".join(PEERS)}')
    jits = args.keras_jit.split(',') if peer.startswith('keras') else ['']
    for jit in jits:
      name = peer + (f'[jit={jit}]' if jit and jit != 'auto' else '')
      workers.append(Worker(name, base + [f'--kind={peer}', f'--keras_jit={jit or "auto"}'],
                            _env(None, args.threads), python=peer_python(args)))
  try:
    for w in workers:  # one at a time: compiles neither overlap nor crowd the machine
      try:
        info = w.ready()
      except RuntimeError as e:  # e.g. torch.compile without a working compiler
        print(f'  skipped {w.name}: {e}', flush=True)
        w.close()
        continue
      print(f'  ready {w.name}: {info}', flush=True)
    workers = [w for w in workers if getattr(w, 'info', None)]
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
  rate = {w.name: statistics.median(images / s for s in w.times) for w in workers}
  peers = [w for w in workers if not w.name.startswith('cnnlab')] or workers
  best = max(peers, key=lambda w: rate[w.name])
  rows = []
  for w in workers:
    paired = statistics.median(r / s for s, r in zip(w.times, best.times))
    rows.append({'name': w.name, 'images_per_sec': rate[w.name], 'ratio_vs_best_peer': paired,
                 'trials': [round(images / s, 1) for s in w.times], 'info': w.info})
  return {'model': model_name, 'batch_size': args.batch_size, 'steps': args.steps,
          'trials': args.trials, 'best_peer': best.name, 'rows': rows}


def print_table(result):
  print(f"\n{result['model']}  batch {result['batch_size']}, {result['steps']} steps x "
        f"{result['trials']} interleaved trials (median images/s; ratio = median of "
        f"per-trial ratios to the best peer, {result['best_peer']})")
  print(f"{'contender':44s} {'img/s':>7s} {'vs best':>8s}  params")
  for r in result['rows']:
    print(f"{r['name']:44s} {r['images_per_sec']:7.0f} {r['ratio_vs_best_peer']:8.2f}  "
          f"{r['info'].get('params')}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--models', default='vgg,resnet20')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=10, help='steps per timed trial')
  parser.add_argument('--trials', type=int, default=7)
  parser.add_argument('--computes', default='auto',
                      help="cnnlab config.compute specs, comma-separated: 'auto' or "
                           "xla_cpu/conv/dtype, e.g. onednn/xla/float32,eigen/im2col/bfloat16")
  parser.add_argument('--variants', default='cnnlab',
                      help=f'XLA flag sets replacing the profile, from: {",".join(VARIANTS)} '
                           "('cnnlab': the compute spec's profile)")
  parser.add_argument('--peers', default='keras,keras_bf16,torch,torch_bf16,torch_compile',
                      help=f'from: {",".join(PEERS)} (empty: none)')
  parser.add_argument('--peer_python', default='',
                      help='python of the peers venv (default: benchmarks/peers/.venv, made '
                           'by benchmarks/peers/setup.sh, else this python)')
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
      cnnlab_worker(args.models, args.batch_size, args.steps, args.paths, args.pools,
                    args.computes)
    elif args.kind.startswith('keras'):
      keras_worker(args.models, args.batch_size, args.steps, args.keras_jit,
                   bf16=args.kind == 'keras_bf16')
    else:
      torch_worker(args.models, args.batch_size, args.steps, args.kind)
    return

  sys.path.insert(0, REPO)
  from cnnlab.core import machine  # pylint: disable=g-import-not-at-top
  cpu = machine.describe()
  print(f"CPU: {cpu['model']}, {cpu['cores']} cores, class {cpu['class']} "
        f"(flags: {' '.join(cpu['flags'])}); load average {os.getloadavg()}", flush=True)
  results = []
  for model_name in args.models.split(','):
    print(f'{model_name}:', flush=True)
    result = benchmark(model_name, args)
    print_table(result)
    results.append(result)
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'cpu': cpu, 'load_average': os.getloadavg(), 'results': results}, f,
                indent=1)


if __name__ == '__main__':
  main()
