"""Benchmark: steps, examples and wall time until an LSTM does 3-digit arithmetic.

Trains each experiment until its val exact match (free-running greedy
decoding over all val problems, evaluated once per epoch) reaches
--target, then prints a markdown table read from the runs' metrics.jsonl:

  python benchmarks/seq2seq.py --root=runs/bench_seq2seq                  # addition, subtract
  python benchmarks/seq2seq.py --root=runs/bench_seq2seq --experiments=keras
  python benchmarks/seq2seq.py --root=runs/bench_seq2seq --seeds=1,2     # replicates
  python benchmarks/seq2seq.py --root=runs/bench_seq2seq --summary_only

Runs are resumable (rerun the same command); a finished one is not retrained.
Wall time is the run's own `elapsed_seconds`: compilation and evaluations included,
process start-up excluded.
"""
import json
import os
import subprocess
import sys
from typing import Any, Dict, List

from absl import app
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name -> (config file, extra overrides)
EXPERIMENTS = {
    'addition': ('configs/seq2seq/addition.py', []),
    'subtract': ('configs/seq2seq/subtract.py', []),
    'mixed': ('configs/seq2seq/mixed.py', []),
    # The Keras example as written (keras_lstm, batch 32, answers as written).
    'keras': ('configs/seq2seq/keras.py', []),
    # Variations of subtract: Keras' 45,000 training problems, alone and with a
    # decaying schedule (cosine over 30 epochs, independent of --max_epochs).
    'subtract_45k': ('configs/seq2seq/subtract.py', ['--config.train_size=45000']),
    'subtract_45k_cosine': ('configs/seq2seq/subtract.py',
                            ['--config.train_size=45000', '--config.schedule.name=cosine',
                             '--config.num_epochs=30']),
}

_ROOT = flags.DEFINE_string('root', 'runs/bench_seq2seq', 'One workdir per experiment under it.')
_EXPERIMENTS = flags.DEFINE_list('experiments', ['addition', 'subtract'],
                                 f'Any of {", ".join(EXPERIMENTS)}.')
_TARGET = flags.DEFINE_float('target', 0.995, 'Val exact match to reach.')
_MAX_EPOCHS = flags.DEFINE_integer('max_epochs', 60, 'Give up after this many epochs.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'config.seed of each run; seed s > 0 runs in '
                           '<root>/<experiment>_seed<s>.')
_SUMMARY_ONLY = flags.DEFINE_bool('summary_only', False, 'Only print the table.')


def read_jsonl(path: str) -> List[Dict[str, Any]]:
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def summarize(name: str, workdir: str, target: float) -> str:
  """One markdown row: the first evaluation at or above `target`, else the best."""
  records = read_jsonl(os.path.join(workdir, 'metrics.jsonl'))
  if not records:
    return f'| {name} | (no evaluations yet) |||||||'
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  # Runs from before the val split (benchmarks/seq2seq_results.md) decided on the test set.
  acc = lambda r: r.get('val_accuracy', r.get('test_exact_match'))
  hit = next((r for r in records if acc(r) >= target), None)
  r = hit or max(records, key=acc)
  setup = (f"{config['operation']} {config['num_digits']}d, seed {config['seed']}, {config['model']['name']}, "
           f"h{config['model']['hidden_size']}, b{config['batch_size']}, "
           f"{config['optimizer']['name']} {config['optimizer']['lr']:g} "
           f"{config['schedule']['name']}, "
           f"rev_in {int(config['reverse_input'])} rev_out {int(config['reverse_target'])}, "
           f"{config['train_size'] - config.get('val_size', 0):,}/{config.get('val_size', 0):,}/"
           f"{config['test_size']:,}")
  status = 'reached' if hit else f'NOT reached (best of {len(records)} evals)'
  return (f"| {name} | {setup} | {status} | {r['step']:,} | {r['epoch']:.0f} | "
          f"{r['examples']:,} | {r.get('elapsed_seconds', r.get('elapsed_s')):.0f} | "
          f"{r.get('test_accuracy', r.get('test_exact_match')):.2%} | "
          f"{r['test_char_accuracy']:.2%} |")


HEADER = ('| run | setup (op, digits, seed, model, hidden, batch, optimizer, reversal, train/val/test) '
          '| target | steps | epochs | examples | wall s | test exact | test char |\n'
          '|---|---|---|---|---|---|---|---|---|')


def main(argv):
  del argv
  unknown = set(_EXPERIMENTS.value) - set(EXPERIMENTS)
  if unknown:
    sys.exit(f'unknown experiments {sorted(unknown)}; known: {", ".join(EXPERIMENTS)}')
  runs = [(name, int(seed), name if int(seed) == 0 else f'{name}_seed{seed}')
          for name in _EXPERIMENTS.value for seed in _SEEDS.value]
  for name, seed, run in runs:
    if _SUMMARY_ONLY.value:
      break
    config, extra = EXPERIMENTS[name]
    cmd = [sys.executable, '-m', 'seq2seq.main', f'--config={config}',
           f'--workdir={os.path.join(os.path.abspath(_ROOT.value), run)}',
           f'--config.seed={seed}', f'--config.target_accuracy={_TARGET.value}',
           '--config.num_samples=3'] + extra
    if not any(x.startswith('--config.num_epochs=') for x in extra):
      cmd.append(f'--config.num_epochs={_MAX_EPOCHS.value}')
    print('$', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)
  print(HEADER)
  for _, _, run in runs:
    print(summarize(run, os.path.join(_ROOT.value, run), _TARGET.value))


if __name__ == '__main__':
  app.run(main)
