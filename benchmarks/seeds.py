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
    'seed002_large_100': (0.8248, 100, 'val acc (test split), seed002 line 435'),
    'seed002_large_less_dropout': (0.7431, 25, 'val acc (test split), seed002 line 585'),
    'seed002_wide': (0.7807, 100, 'val acc (test split), seed002 line 704'),
    'seed002_wide_augment': (0.8324, 200, 'val acc (test split), 200 epochs continuing '
                             'seed002_wide, seed002 line 780'),
    'seed002_wide_dropout_augment': (0.8342, 100, 'val acc (test split), seed002 line 908'),
    'seed002_bn_augment': (0.8315, 50, 'val acc (test split), seed002 line 1058'),
    'seed000_baseline': (0.5586, 300, 'val acc (val drawn with replacement, overlapping '
                         'train), seed000 line 907'),
    # Seed 003: a held-out 10% val (test 10% once at the end); needs the Kaggle .npy.
    'seed003_brief': (0.8932, 100, 'val acc, seed003 line 567 (test 0.8957, line 575)'),
    'seed003_deeper': (0.9195, 100, 'val acc, seed003 line 934 (test 91.77%, line 961)'),
    'seed003_affine': (0.8657, 100, 'val acc, seed003 line 1375 (test 0.8720, line 1383)'),
    'seed003_elastic_sgdr': (0.9133, 100, 'val acc, seed003 line 1866 (test 0.9132, '
                             'line 1875)'),
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
  if not records:
    return f'| {name} | {seed_value:.4f} (epoch {seed_epoch}) | running, no evaluation yet | | | {what} |'
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
