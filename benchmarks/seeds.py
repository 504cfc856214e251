r"""The seed notebooks' numbers beside cnnlab's, from runs of configs/seeds/.

  nohup bash benchmarks/seeds.sh runs/seeds seed004_mlp seed004_conv1 ... &
  python benchmarks/seeds.py --root=runs/seeds

For each seed experiment: the number the seed printed (read in
../shared/seeds/, file and line in SEEDS), and cnnlab's at the same epoch on
its own protocol (the config's docstring says where it differs), with its best
epoch and wall time. A run cut short (`seeds.sh <name>:<epochs>`) is compared
with the seed's own curve at its last epoch (CURVES), or says the seed printed
nothing there. Further seeds of a run live in <root>/<name>_s<seed>.
"""
import argparse
import glob
import json
import os

# name -> (seed's value, seed's epoch, what it is and where it was read);
# value None where the seed printed no number for the experiment.
SEEDS = {
    'seed004_mlp': (0.4017, 10, 'val acc (test split), seed004 line 162'),
    'seed004_conv1': (0.5920, 10, 'val acc (test split), seed004 line 297'),
    'seed004_conv4': (0.6791, 10, 'val acc (test split), seed004 line 454'),
    'seed004_vgg': (0.7062, 10, 'val acc (test split), seed004 line 611'),
    'seed004_vgg_augment': (0.7055, 20, 'val acc (test split), seed004 line 821'),
    'seed004_subtraction': (0.9806, 39, 'val exact match by hand, seed004 line 2137'),
    'seed002_simple': (0.6988, 25, 'val acc (test split), seed002 line 203'),
    'seed002_large': (None, 25, 'the cell never ran (seed002 line 214, "In []:"); its text claims '
                      '"about 80%" (line 253); seed002_large_100 has the same layers'),
    'seed002_large_100': (0.8248, 100, 'val acc (test split), seed002 line 435'),
    'seed002_large_less_dropout': (0.7431, 25, 'val acc (test split), seed002 line 585'),
    'seed002_wide': (0.7807, 100, 'val acc (test split), seed002 line 704'),
    'seed002_wide_augment': (0.8324, 200, 'val acc (test split), 200 epochs continuing '
                             'seed002_wide, seed002 line 780; nothing printed before its epoch 184'),
    'seed002_wide_dropout_augment': (0.8342, 100, 'val acc (test split), seed002 line 908; '
                                     'nothing printed before epoch 82'),
    'seed002_bn_augment': (0.8315, 50, 'val acc (test split), seed002 line 1058; only epoch 1 '
                           'and 43-50 printed'),
    'seed000_baseline': (0.5586, 300, 'val acc (val drawn with replacement, overlapping '
                         'train), seed000 line 907'),
    'seed000_clr': (None, 300, 'trained with verbose=0 (seed000 line 1267), continuing the '
                    'baseline: only a figure (line 1301)'),
    'seed000_optimizers': (0.8693, 120, 'val acc after all four optimizers trained one model '
                           'in turn (120 epochs) after the CLR run, seed000 line 1421; '
                           'verbose=0, no per-epoch number'),
    # Seed 003: a held-out 10% val (test 10% once at the end); needs the Kaggle .npy.
    'seed003_brief': (0.8932, 100, 'val acc, seed003 line 567 (test 0.8957, line 575)'),
    'seed003_deeper': (0.9195, 100, 'val acc, seed003 line 934 (test 91.77%, line 961)'),
    'seed003_affine': (0.8657, 100, 'val acc, seed003 line 1375 (test 0.8720, line 1383)'),
    'seed003_elastic_sgdr': (0.9133, 100, 'val acc, seed003 line 1866 (test 0.9132, '
                             'line 1875)'),
}

# The seeds' printed per-epoch val accuracy, epoch -> (value, line of the
# seed file), for comparing runs cut short. seed002_large_100 stands in for
# seed002_large's first epochs (same layers; its lr decays 4x slower per step).
CURVES = {
    'seed000_baseline': {1: (0.1276, 309), 2: (0.1490, 311), 3: (0.1717, 313), 4: (0.1844, 315),
                         5: (0.1992, 317), 6: (0.2174, 319), 7: (0.2284, 321), 8: (0.2358, 323),
                         9: (0.2461, 325), 10: (0.2554, 327)},
    'seed002_simple': {1: (0.4922, 117), 2: (0.5561, 121), 3: (0.5818, 125), 4: (0.6195, 129),
                       5: (0.6320, 133), 10: (0.6737, 153)},
    'seed002_large_100': {1: (0.4277, 299), 2: (0.5156, 303), 3: (0.5806, 307), 4: (0.6221, 311),
                          5: (0.6547, 315), 10: (0.7516, 335)},
    'seed002_large_less_dropout': {1: (0.4439, 492), 2: (0.5282, 496), 3: (0.5946, 500),
                                   4: (0.6434, 504), 5: (0.6709, 508), 10: (0.7308, 528)},
    'seed002_wide': {1: (0.5604, 640), 2: (0.5966, 644), 3: (0.6956, 648), 4: (0.7485, 652),
                     5: (0.7661, 656), 8: (0.7744, 668)},
    'seed002_bn_augment': {1: (0.2822, 1028)},
    'seed004_vgg_augment': {1: (0.2574, 756), 2: (0.3319, 760), 3: (0.3758, 764),
                            4: (0.4296, 768), 5: (0.4208, 772), 10: (0.5972, 791)},
}


def read(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def run_dirs(root, name):
  """<root>/<name> and any further seeds <root>/<name>_s<seed> that have metrics."""
  dirs = [os.path.join(root, name)] + sorted(glob.glob(os.path.join(root, f'{name}_s*')))
  return [d for d in dirs if os.path.exists(os.path.join(d, 'metrics.jsonl'))]


def seed_at(name, epoch):
  """The seed's printed val accuracy at `epoch`, as text."""
  seed_value, seed_epoch, _ = SEEDS[name]
  if epoch == seed_epoch and seed_value is not None:
    return f'{seed_value:.4f}'
  if epoch in CURVES.get(name, {}):
    value, line = CURVES[name][epoch]
    return f'{value:.4f} (line {line})'
  return 'not printed'


def row(root, name):
  seed_value, seed_epoch, what = SEEDS[name]
  printed = 'none' if seed_value is None else f'{seed_value:.4f} (epoch {seed_epoch})'
  dirs = run_dirs(root, name)
  if not dirs:
    return f'| {name} | {printed} | | not run | | | {what} |'
  runs = [[r for r in read(os.path.join(d, 'metrics.jsonl')) if 'val_accuracy' in r] for d in dirs]
  runs = [r for r in runs if r]
  if not runs:
    return f'| {name} | {printed} | | running, no evaluation yet | | | {what} |'
  # Compare at the seed's epoch, or at the last epoch every run reached.
  epoch = min(seed_epoch, min(round(r[-1]['epoch']) for r in runs))
  ats = [next(x for x in r if round(x['epoch']) == epoch) for r in runs]
  values = ', '.join(
      f'{at["val_accuracy"]:.4f}' + (f' (test {at["test_accuracy"]:.4f})' if 'test_accuracy' in at
                                     else '') for at in ats)
  if len(ats) > 1:
    mean = sum(at['val_accuracy'] for at in ats) / len(ats)
    values += f'; mean {mean:.4f} (n={len(ats)})'
  best = ', '.join(f'{b["val_accuracy"]:.4f} (epoch {round(b["epoch"])})'
                   for b in (max(r, key=lambda x: x['val_accuracy']) for r in runs))
  wall = ', '.join(f'{r[-1]["elapsed_seconds"]:.0f}' for r in runs)
  return (f'| {name} | {printed} | {epoch}: {seed_at(name, epoch)} | {values} | {best} | {wall} '
          f'| {what} |')


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--root', default='runs/seeds')
  args = parser.parse_args()
  print('| experiment | seed printed (final) | epoch compared: seed there | cnnlab val at that '
        'epoch | cnnlab best val | wall s | seed number |')
  print('|---|---|---|---|---|---|---|')
  for name in SEEDS:
    print(row(args.root, name))


if __name__ == '__main__':
  main()
