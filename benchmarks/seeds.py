r"""The seed notebooks' numbers beside cnnlab's, from runs of configs/seeds/.

  nohup bash benchmarks/seeds.sh runs/seeds seed004_mlp seed004_conv1 ... &
  python benchmarks/seeds.py --root=runs/seeds > benchmarks/seeds_table.md

For each seed experiment: the number the seed printed (read in
../shared/seeds/, file and line in SEEDS), and cnnlab's at the same epoch on
its own protocol (the config's docstring says where it differs), with its best
epoch and wall time. A run cut short is compared at its last epoch and says so.
"""
import argparse
import json
import os

# name -> (seed's value, seed's epoch, what it is and where it was read)
SEEDS = {
    'seed004_mlp': (0.4017, 10, 'val acc (test split), seed004 line 162'),
    'seed004_conv1': (0.5920, 10, 'val acc (test split), seed004 line 297'),
    'seed004_conv4': (0.6791, 10, 'val acc (test split), seed004 line 454'),
    'seed004_vgg': (0.7062, 10, 'val acc (test split), seed004 line 611'),
    'seed004_vgg_augment': (0.7055, 20, 'val acc (test split), seed004 line 821'),
    'seed004_subtraction': (0.9806, 39, 'val exact match by hand, seed004 line 2137'),
    'seed002_simple': (0.6988, 25, 'val acc (test split), seed002 line 203'),
}


def read(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def row(root, name):
  seed_value, seed_epoch, what = SEEDS[name]
  path = os.path.join(root, name, 'metrics.jsonl')
  if not os.path.exists(path):
    return f'| {name} | {seed_value:.4f} (epoch {seed_epoch}) | not run | | | {what} |'
  records = [r for r in read(path) if 'val_accuracy' in r]
  by_epoch = {round(r['epoch']): r for r in records}
  last = records[-1]
  at = by_epoch.get(seed_epoch, last)
  best = max(records, key=lambda r: r['val_accuracy'])
  cut = '' if round(at['epoch']) == seed_epoch else f' (cut short: epoch {round(at["epoch"])})'
  test = f', test {at["test_accuracy"]:.4f}' if 'test_accuracy' in at else ''
  return (f'| {name} | {seed_value:.4f} (epoch {seed_epoch}) | {at["val_accuracy"]:.4f}{cut}{test} '
          f'| {best["val_accuracy"]:.4f} (epoch {round(best["epoch"])}) '
          f'| {last["elapsed_seconds"]:.0f} | {what} |')


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--root', default='runs/seeds')
  args = parser.parse_args()
  print('| experiment | seed printed | cnnlab val at that epoch | cnnlab best val | wall s | '
        'seed number |')
  print('|---|---|---|---|---|---|')
  for name in SEEDS:
    print(row(args.root, name))


if __name__ == '__main__':
  main()
