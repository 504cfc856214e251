r"""The seed notebooks' numbers beside cnnlab's, from runs of configs/seeds/.

  nohup bash benchmarks/seeds.sh runs/seeds seed004_mlp seed004_conv1 ... &
  python benchmarks/seeds.py --root=runs/seeds
  # seed 003 on the real Fashion-MNIST, beside Fashion-MNIST's published table:
  nohup bash benchmarks/seeds.sh runs/seeds_fm seed003_brief:10 seed003_deeper:10 ... &
  python benchmarks/seeds.py --root=runs/seeds_fm --fashion

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
    'seed002_simple': (0.6988, 25, 'val acc (test split), seed002 line 203; cnnlab measured '
                       "with optax's momentum style, before the config took Keras' (see above)"),
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
                           "and 43-50 printed; cnnlab measured with optax's momentum style, "
                           "before the config took Keras' (see above)"),
    'seed000_baseline': (0.5586, 300, 'val acc (val drawn with replacement, overlapping '
                         'train), seed000 line 907'),
    'seed000_lr_range': (None, 50, 'the LR range test: a figure only (accuracy against lr, '
                         'seed000 line 1169), verbose=0; continues the baseline'),
    'seed000_clr': (None, 300, 'trained with verbose=0 (seed000 line 1267), continuing the '
                    'baseline: only a figure (line 1301)'),
    'seed000_optimizers': (0.8693, 120, 'val acc after all four optimizers trained one model '
                           'in turn (120 epochs) after the CLR run, seed000 line 1421; '
                           'verbose=0, no per-epoch number. The config runs the four as '
                           'parallel runs from the CLR weights, not chained: not the same '
                           'protocol as this number'),
    # Seed 003: a held-out 10% val (test 10% once at the end); needs the Kaggle .npy.
    'seed003_brief': (0.8932, 100, 'val acc, seed003 line 567 (test 0.8957, line 575)'),
    'seed003_deeper': (0.9195, 100, 'val acc, seed003 line 934 (test 91.77%, line 961)'),
    'seed003_affine': (0.8657, 100, 'val acc, seed003 line 1375 (test 0.8720, line 1383)'),
    'seed003_elastic_sgdr': (0.9133, 100, 'val acc, seed003 line 1866 (test 0.9132, '
                             'line 1875)'),
    'seed003_adamax': (None, 100, 'no number for Adamax alone (seed003 lines 1456-1465)'),
    'seed003_transfer_resnet': (0.8028, 100, 'val acc, seed003 line 2343 (test 0.8113, '
                                'line 2349); needs ImageNet weights too'),
    'seed003_transfer_vgg': (0.8678, 100, 'val acc, seed003 line 2725 (test 0.8542, line 2731); '
                             'needs ImageNet weights too'),
}

# The seeds' printed per-epoch val accuracy, epoch -> (value, line of the
# seed file), for comparing runs cut short (epochs 1-10 where printed) and for
# curve_table. seed002_large_100 stands in for seed002_large's first epochs
# (same layers; its lr decays 4x slower per step). seed004_subtraction: the
# whole-answer val accuracy it printed after every iteration.
CURVES = {
    'seed000_baseline': {1: (0.1276, 309), 2: (0.1490, 311), 3: (0.1717, 313), 4: (0.1844, 315),
                         5: (0.1992, 317), 6: (0.2174, 319), 7: (0.2284, 321), 8: (0.2358, 323),
                         9: (0.2461, 325), 10: (0.2554, 327)},
    'seed002_simple': {1: (0.4922, 117), 2: (0.5561, 121), 3: (0.5818, 125), 4: (0.6195, 129),
                       5: (0.6320, 133), 6: (0.6389, 137), 7: (0.6533, 141), 8: (0.6680, 145),
                       9: (0.6677, 149), 10: (0.6737, 153)},
    'seed002_large_100': {1: (0.4277, 299), 2: (0.5156, 303), 3: (0.5806, 307), 4: (0.6221, 311),
                          5: (0.6547, 315), 6: (0.7030, 319), 7: (0.7132, 323), 8: (0.7361, 327),
                          9: (0.7416, 331), 10: (0.7516, 335)},
    'seed002_large_less_dropout': {1: (0.4439, 492), 2: (0.5282, 496), 3: (0.5946, 500),
                                   4: (0.6434, 504), 5: (0.6709, 508), 6: (0.6876, 512),
                                   7: (0.7079, 516), 8: (0.7206, 520), 9: (0.7231, 524),
                                   10: (0.7308, 528)},
    'seed002_wide': {1: (0.5604, 640), 2: (0.5966, 644), 3: (0.6956, 648), 4: (0.7485, 652),
                     5: (0.7661, 656), 6: (0.7730, 660), 7: (0.7780, 664), 8: (0.7744, 668)},
    'seed002_bn_augment': {1: (0.2822, 1028)},
    'seed004_vgg_augment': {1: (0.2574, 756), 2: (0.3319, 760), 3: (0.3758, 764), 4: (0.4296, 768),
                            5: (0.4208, 772), 6: (0.4472, 776), 7: (0.5220, 782), 8: (0.5248, 785),
                            9: (0.5591, 788), 10: (0.5972, 791)},
    'seed004_subtraction': {1: (0.0032, 1301), 2: (0.0100, 1322), 3: (0.0170, 1343),
                            4: (0.0324, 1362), 5: (0.0360, 1379), 6: (0.0484, 1396),
                            7: (0.0690, 1414), 8: (0.1000, 1436), 9: (0.1372, 1458),
                            10: (0.1620, 1480), 11: (0.2298, 1512), 12: (0.3010, 1544),
                            13: (0.3752, 1576), 14: (0.4298, 1597), 15: (0.5524, 1618),
                            16: (0.6464, 1638), 17: (0.7274, 1660), 18: (0.7512, 1683),
                            19: (0.8098, 1706), 20: (0.8470, 1729), 21: (0.8788, 1746),
                            22: (0.8860, 1763), 23: (0.9100, 1780), 24: (0.9020, 1798),
                            25: (0.8874, 1821), 26: (0.9344, 1843), 27: (0.8314, 1865),
                            28: (0.9316, 1896), 29: (0.9390, 1927), 30: (0.9138, 1958),
                            31: (0.9390, 1977), 32: (0.9644, 1995), 33: (0.9600, 2012),
                            34: (0.9482, 2030), 35: (0.9330, 2053), 36: (0.9620, 2075),
                            37: (0.9752, 2097), 38: (0.9772, 2117), 39: (0.9806, 2137)},
}


# Seed 003's configs on the real Fashion-MNIST (10 classes, official test split), beside the
# comparable rows of Fashion-MNIST's own benchmark table (its README, "Benchmark", as installed by
# Debian's dataset-fashion-mnist: /usr/share/doc/dataset-fashion-mnist/README.md.gz, lines
# 152-191; "we haven't yet tested these results", it says): (classifier, preprocessing, test acc, line).
PUBLISHED = {
    'two_conv': ('2 Conv+pooling (TensorFlow\'s doc)', 'none', 0.916, 155),
    'two_conv_bn': ('2 Conv+pooling+BN', 'none', 0.934, 162),
    'two_conv_aug': ('2 Conv', 'normalization, random flips, translation, rotation', 0.919, 157),
    'two_conv_fc_aug': ('2 Conv+3 FC ~500K parameters', 'augmentation, batch normalization',
                        0.934, 161),
    'three_conv_fc': ('3 Conv+pooling+2 FC+dropout', 'none', 0.926, 166),
    'three_conv_bn': ('3 Conv+BN+pooling', 'none', 0.921, 167),
    'resnet18': ('ResNet18', 'normalization, random flips, translation, rotation', 0.949, 175),
}
FASHION = {
    # config: the published rows it is comparable with (same kind of net and preprocessing)
    'seed003_brief': ('two_conv', 'two_conv_bn'),
    'seed003_deeper': ('three_conv_fc', 'three_conv_bn'),
    'seed003_adamax': ('three_conv_fc', 'three_conv_bn'),
    'seed003_affine': ('two_conv_aug', 'two_conv_fc_aug'),
    'seed003_elastic_sgdr': ('two_conv_aug', 'two_conv_fc_aug'),
}


def fashion_row(root, name):
  """seed 003's config `name` on the real Fashion-MNIST: its test accuracy beside the table's."""
  published = '; '.join(f'{PUBLISHED[k][0]} ({PUBLISHED[k][1]}) {PUBLISHED[k][2]:.3f} '
                        f'(line {PUBLISHED[k][3]})' for k in FASHION[name])
  workdir = os.path.join(root, name)
  test_path = os.path.join(workdir, 'eval_test.json')
  if not os.path.exists(test_path):
    return f'| {name} | not run | | | | {published} |'
  with open(test_path) as f:
    test = json.load(f)
  records = [r for r in read(os.path.join(workdir, 'metrics.jsonl')) if 'val_accuracy' in r]
  best = max(records, key=lambda r: r['val_accuracy'])
  done, seed_epochs = round(records[-1]['epoch']), SEEDS[name][1]
  epochs = f'{done} of the seed\'s {seed_epochs} (cut short)' if done < seed_epochs else str(done)
  return (f'| {name} | {epochs} | {best["val_accuracy"]:.4f} (epoch {round(best["epoch"])}) | '
          f'**{test["accuracy"]:.4f}** | {records[-1]["elapsed_seconds"]:.0f} | {published} |')


def fashion_table(root):
  lines = ['| config | epochs | best val (6,000 of the training images) | official test '
           '(10,000, read once, best checkpoint) | wall s | comparable published rows |',
           '|---|---|---|---|---|---|']
  return '\n'.join(lines + [fashion_row(root, name) for name in FASHION])


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


def curve_table(root, name, max_rows: int = 14) -> str:
  """The seed's printed curve beside each cnnlab run's, epoch by epoch ('' without runs)."""
  runs = [(os.path.basename(d), {round(r['epoch']): r['val_accuracy']
                                 for r in read(os.path.join(d, 'metrics.jsonl'))
                                 if 'val_accuracy' in r}) for d in run_dirs(root, name)]
  curve = CURVES.get(name, {})
  epochs = sorted(e for e in curve if any(e in by_epoch for _, by_epoch in runs))
  if not epochs:
    return ''
  if len(epochs) > max_rows:  # every k-th epoch, and always the last
    k = -(-len(epochs) // max_rows)
    epochs = sorted(set(epochs[k - 1::k]) | {epochs[-1]})
  lines = [f'| epoch | seed ({name}) | ' + ' | '.join(f'cnnlab {n}' for n, _ in runs) + ' |',
           '|---|---|' + '---|' * len(runs)]
  for e in epochs:
    value, line = curve[e]
    lines.append(f'| {e} | {value:.4f} (line {line}) | '
                 + ' | '.join(f'{by_epoch[e]:.4f}' if e in by_epoch else '' for _, by_epoch in runs)
                 + ' |')
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--root', default='runs/seeds')
  parser.add_argument('--fashion', action='store_true',
                      help='the seed 003 runs on the real Fashion-MNIST (benchmarks/seeds.md)')
  args = parser.parse_args()
  if args.fashion:
    print(fashion_table(args.root))
    return
  print('| experiment | seed printed (final) | epoch compared: seed there | cnnlab val at that '
        'epoch | cnnlab best val | wall s | seed number |')
  print('|---|---|---|---|---|---|---|')
  for name in SEEDS:
    print(row(args.root, name))
  for name in CURVES:
    table = curve_table(args.root, name)
    if table:
      print(f'\n{table}')


if __name__ == '__main__':
  main()
