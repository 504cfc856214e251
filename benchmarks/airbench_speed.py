r"""Training-step speed of the airbench net on this machine: images/s and % of fp32 peak.

  python benchmarks/airbench_speed.py                      # widths 64/256/256, batch 1024
  python benchmarks/airbench_speed.py --widths=32,64,128 --batch_size=512

Times cnnlab's own jitted train step (augmentation, forward, backward,
airbench_sgd, lookahead) on random uint8 images resident on the device, after
a warm-up step (compile time printed separately). FLOPs per image are XLA's
own count of the compiled step (cost_analysis), so the % of peak uses the
work actually done. The peak is cores x GHz x fp32 FLOP per cycle per core,
given on the command line (--flops_per_cycle: 32 for AVX-512 on Zen 4 /
Ice Lake class cores with two 256-bit-wide FMA pipes doing 512-bit ops in
halves, 64 for two full 512-bit FMA pipes, 32 for AVX2 with two 256-bit FMA
pipes) and measured: the best fp32 matmul throughput XLA reaches here.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cnnlab.core import xla_flags  # pylint: disable=g-import-not-at-top
xla_flags.set_cpu_defaults()
# pylint: disable=g-import-not-at-top,wrong-import-position
import functools

import jax
import jax.numpy as jnp
import numpy as np

from cnnlab import augment, lookahead, models, optimizers, steps
from configs import airbench


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
  """Best fp32 GFLOP/s of an n x n matmul under XLA (all cores)."""
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda x, y: x @ y)
  f(a, a).block_until_ready()
  best = 0.0
  for _ in range(repeats):
    start = time.perf_counter()
    f(a, a).block_until_ready()
    best = max(best, 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
  return best


def cpu_ghz() -> float:
  try:
    with open('/proc/cpuinfo') as f:
      mhz = [float(l.split(':')[1]) for l in f if l.startswith('cpu MHz')]
    return max(mhz) / 1000.0
  except (OSError, ValueError):
    return 0.0


def compiled_step(config, batch_size: int, num_images: int = 0, image_shape=(32, 32, 3)):
  """(compiled train step, its arguments, FLOPs per trained image) for `config`.

  The step is cnnlab's own gather_train_step (augmentation, forward,
  backward, optimizer, lookahead) on random uint8 images resident on the
  device; the FLOPs are XLA's cost analysis of the compiled step.
  """
  config = config.copy_and_resolve_references()
  config.batch_size = batch_size
  n = num_images or 2 * batch_size
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n,) + tuple(image_shape), dtype=np.uint8)
  labels = rng.integers(0, 10, n).astype(np.int32)
  model = models.from_config(config.model, 10)
  pipeline = augment.create_pipeline(config.augment)
  tx = optimizers.create_optimizer(config, 2, 1000, frozen=models.frozen_params(model))
  settings = lookahead.settings(config, 2, 1000)
  state = steps.create_train_state(jax.random.key(0), model, tuple(image_shape), tx,
                                   pipeline.fit(images))
  state = steps.with_lookahead(steps.fit_model(state, model, images, pipeline, 0), settings)
  step = jax.jit(functools.partial(steps.gather_train_step, pipeline=pipeline,
                                   label_smoothing=config.label_smoothing, steps_per_epoch=2,
                                   lookahead_settings=settings), donate_argnums=0)
  data = {'image': jnp.asarray(images), 'label': jnp.asarray(labels)}
  index = jnp.arange(batch_size, dtype=jnp.int32)
  compiled = step.lower(state, data, index, jax.random.key(1)).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return compiled, (state, data, index), float(cost.get('flops', 0.0)) / batch_size


def peak_gflops(flops_per_cycle: float = 32.0, ghz: float = 0.0) -> float:
  """cores x GHz x fp32 FLOP per cycle per core."""
  return (os.cpu_count() or 1) * (ghz or cpu_ghz()) * flops_per_cycle


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--widths', default='64,256,256')
  parser.add_argument('--batch_size', type=int, default=1024)
  parser.add_argument('--steps', type=int, default=5)
  parser.add_argument('--flops_per_cycle', type=float, default=32.0)
  parser.add_argument('--ghz', type=float, default=0.0, help='default: /proc/cpuinfo')
  args = parser.parse_args()

  config = airbench.get_config()
  config.model.widths = tuple(int(w) for w in args.widths.split(','))
  start = time.perf_counter()
  compiled, (state, data, index), flops_per_image = compiled_step(config, args.batch_size)
  compile_s = time.perf_counter() - start
  key = jax.random.key(1)
  n = data['label'].shape[0]
  state, metrics = compiled(state, data, index, key)  # warm-up
  jax.block_until_ready(metrics)
  times = []
  for i in range(args.steps):
    start = time.perf_counter()
    state, metrics = compiled(state, data, (index + i * 7) % n, key)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
  seconds = float(np.median(times))
  images_per_s = args.batch_size / seconds
  ghz = args.ghz or cpu_ghz()
  peak = peak_gflops(args.flops_per_cycle, ghz)
  measured = matmul_peak()
  achieved = images_per_s * flops_per_image / 1e9
  params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
  print(f'widths {args.widths}  batch {args.batch_size}  params {params:,}')
  print(f'compile {compile_s:.1f} s (includes fitting the whitening conv); '
        f'step median {seconds * 1e3:.0f} ms over {args.steps}')
  print(f'images/s {images_per_s:.1f}')
  print(f'GFLOP per trained image (XLA cost analysis) {flops_per_image / 1e9:.3f}')
  print(f'achieved {achieved:.1f} GFLOP/s')
  print(f'peak {peak:.0f} GFLOP/s ({os.cpu_count()} cores x {ghz:.2f} GHz x '
        f'{args.flops_per_cycle:g}) -> {100 * achieved / peak:.1f}% of peak')
  print(f'fp32 matmul 2048^3 under XLA {measured:.0f} GFLOP/s -> {100 * achieved / measured:.1f}% '
        'of what a matmul reaches')


if __name__ == '__main__':
  main()
