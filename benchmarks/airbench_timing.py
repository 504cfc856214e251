r"""Airbench-style timing: n training runs of one config, compile time apart, mean +- std accuracy.

  # GPU (bf16 convolutions, float32 BatchNorm), airbench's protocol: n >= 10 runs
  python benchmarks/airbench_timing.py --config=airbench --runs=10 \
      --set=model.dtype=bfloat16 --out=runs/airbench_timing_gpu.json
  # a CPU smoke run of the same code path
  python benchmarks/airbench_timing.py --config=airbench_cpu --runs=2 \
      --set=data.max_examples=2000 --set=num_epochs=1.0

As airbench times its runs (`KellerJordan/cifar10-airbench`): one warm-up run
first (untimed), then `--runs` runs with seeds 1..runs, each timed from its
first training step to its last on data already resident on the device, the
clock stopped only after the device finishes (block_until_ready). What a
run does before the clock starts, reported apart: loading and splitting the
data, fitting the whitening conv, initialising the weights, and compiling the
step (DeviceBatches.precompile; `compile s` is the warm-up run's, later runs
load the same program from JAX's compilation cache). Evaluation (val, and
TTA where the config asks for it) runs after the clock stops, as airbench's.
The data are the config's: by default the shared CIFAR-10 folder's 45,000 /
5,000 split with each run's seed; `--set=data.val_fraction=0` trains on all
50,000 as airbench does (then there is no val accuracy to report here).
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cnnlab.core import xla_flags  # pylint: disable=g-import-not-at-top
xla_flags.set_cpu_defaults()
# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np

from cnnlab import batches
from cnnlab import input_pipeline
from cnnlab import steps
from cnnlab import sweep
from cnnlab import train
from cnnlab.core import configs


def parse_overrides(config_name: str, pairs):
  """['model.dtype=bfloat16', 'num_epochs=1'] -> {field: value}, each of its field's type."""
  config = configs.load(config_name)
  fields = [pair.partition('=') for pair in pairs]
  return {field: sweep.parse_value(config, field, text, flag='--set')
          for field, _, text in fields}


def timed_run(config, workdir: str):
  """One run's row: seconds training and compiling, steps, images, val accuracy (and with TTA)."""
  run = train.prepare(config, workdir)
  if not isinstance(run.source, batches.DeviceBatches):
    sys.exit('the timed loop needs the data on the device: one process, data.on_device=True')
  compile_s = run.source.precompile(run.state, config.batch_size, run.train_rng)
  state, n = run.state, len(run.train_ds.labels)
  jax.block_until_ready(state)
  start = time.perf_counter()
  for step in range(run.num_train_steps):
    epoch, position = divmod(step, run.steps_per_epoch)
    if position == 0:
      order = input_pipeline.epoch_permutation(config.seed, epoch, n)
    indices = order[position * config.batch_size:(position + 1) * config.batch_size]
    state, _ = run.source.step(state, indices, run.train_rng)
  jax.block_until_ready(state)
  seconds = time.perf_counter() - start
  accuracy = accuracy_tta = None
  if run.has_val:
    accuracy = steps.evaluate(state, run.val_ds, run.mesh, run.eval_fn,
                              config.eval_batch_size)['accuracy']
    if run.tta_eval_fn is not None:
      accuracy_tta = steps.evaluate(state, run.val_ds, run.mesh, run.tta_eval_fn,
                                    config.eval_batch_size)['accuracy']
  run.ckpts.close()
  return dict(seed=config.seed, seconds=seconds, compile_seconds=compile_s,
              steps=run.num_train_steps, images=run.num_train_steps * config.batch_size,
              val_accuracy=accuracy, val_accuracy_tta=accuracy_tta)


def mean_std(values):
  values = [v for v in values if v is not None]
  if not values:
    return 'n/a'
  std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
  return f'{np.mean(values):.4f} +- {std:.4f}'


def summary(config_name, rows, device: str) -> str:
  timed = rows[1:]
  seconds = [r['seconds'] for r in timed]
  lines = [
      f'{config_name} on {device}: {len(timed)} timed runs after 1 warm-up, '
      f'{timed[0]["steps"]} steps, {timed[0]["images"]:,} images each',
      f'compile s (warm-up run): {rows[0]["compile_seconds"]:.1f}; '
      f'later runs (compilation cache): {np.mean([r["compile_seconds"] for r in timed]):.1f}',
      f'train seconds: {np.mean(seconds):.3f} +- {np.std(seconds, ddof=1) if len(seconds) > 1 else 0:.3f}'
      f'  ({np.mean([r["images"] for r in timed]) / np.mean(seconds):,.0f} images/s)',
      f'val accuracy: {mean_std([r["val_accuracy"] for r in timed])}',
      f'val accuracy with TTA: {mean_std([r["val_accuracy_tta"] for r in timed])}',
  ]
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', default='airbench', help='a config name or path')
  parser.add_argument('--runs', type=int, default=10, help='timed runs after the warm-up')
  parser.add_argument('--set', action='append', default=[], metavar='FIELD=VALUE',
                      help='a config override, as --config.<field>=<value>; repeatable')
  parser.add_argument('--workdir', default='', help='runs go to <workdir>/run<k>; default a '
                      'temporary folder, removed at the end')
  parser.add_argument('--out', default='', help='also write the rows and summary as JSON here')
  args = parser.parse_args()
  if args.runs < 1:
    sys.exit('--runs must be >= 1')
  overrides = parse_overrides(args.config, args.set)
  with tempfile.TemporaryDirectory(prefix='cnnlab_timing_') as tmp:
    # Later runs load the compiled step from disk instead of compiling it again.
    jax.config.update('jax_compilation_cache_dir', os.path.join(tmp, 'jax_cache'))
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)
    root = args.workdir or tmp
    rows = []
    for k in range(args.runs + 1):
      config = configs.load(args.config, {**overrides, 'seed': overrides.get('seed', 0) + k,
                                          'report': False})
      row = timed_run(config, os.path.join(root, f'run{k}'))
      rows.append(row)
      print(f'{"warm-up" if k == 0 else f"run {k}"}: {json.dumps(row)}', flush=True)
  device = f'{jax.device_count()} x {jax.devices()[0].device_kind}'
  text = summary(args.config, rows, device)
  print(text)
  if args.out:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
      json.dump(dict(config=args.config, overrides=overrides, device=device, rows=rows,
                     summary=text), f, indent=1)


if __name__ == '__main__':
  main()
