r"""Seed 003: the deeper model with elastic distortion, a 1-pixel vertical shift and flips, SGDR (cosine, restarts every 10 epochs) and Adamax.

  python -m cnnlab.main --config=configs/seeds/seed003_elastic_sgdr.py --workdir=runs/seeds/seed003_elastic_sgdr
  # the seed's own 5-class Kaggle file instead of the official 10-class files:
  python -m cnnlab.main --config=configs/seeds/seed003_elastic_sgdr.py --workdir=runs/seeds/seed003_elastic_sgdr_kaggle \
      --config.data.name=arrays --config.data.dir=<fashion_mnist_dataset_train.npy>

Seed 003's "Deeper Model with Accuracy Improvement" (lines 1436-1530;
protocol: configs/seeds/seed003_common.py), all three changes at once:
  * ImageDataGenerator(height_shift_range=2, horizontal_flip=True,
    preprocessing_function=elastic_transform(x, alpha_range=[10, 12], ...)):
    Keras draws an int shift range n from {0, .., n-1} with a random sign
    (rows shifted by -1, 0 or 1 pixel: translate(0, 2)), flips, then runs
    the preprocessing function: Simard's elastic distortion with uniform(-1,
    1) fields smoothed by scipy's gaussian_filter (mode 'reflect'), times
    alpha drawn per image from [10, 12], map_coordinates order 1 mode
    'reflect' (lines 1467-1483): elastic(alpha=(10, 12), ...);
  * CosineAnneal(max_lr=0.006, min_lr=0.001, T=10, T_mul=1) (lines
    1489-1524), set every batch: cosine from 0.006 to 0.001 over 10 epochs,
    then a restart (sgdr, t0_epochs=10, t_mult=1);
  * Adamax (table, line 1974; tf.keras defaults b1 0.9, b2 0.999, epsilon
    1e-7), batch 128, 100 epochs.
It printed val accuracy 0.9133 after epoch 100 (line 1866) and test
accuracy 0.9132 (line 1875; print_accuracy: val 91.33, test 91.32, lines
1894-1902).
cnnlab on the real Fashion-MNIST (10 classes, cut to 5 epochs): best val 0.8788 (epoch 4),
official test 0.8790 (benchmarks/seeds.md, beside the dataset's published table).

What cannot be read: the elastic sigma is cut off in the rendering (line
1529). sigma=4 here is a guess (the op's default), not the seed's value:
an outside audit reports that the source the seed cites for this code
(reference 4, line 2845, a Kaggle kernel not readable here) uses sigma=3
(--config.augment='translate(0, 2)|flip_lr|elastic(alpha=(10, 12), sigma=3)'). The cells that build and compile this model are not shown;
its first epoch (train 0.8685, val 0.8975, line 1580) is close to where the
affine run ended, so it may have continued from those weights (Keras'
compile keeps them): cnnlab starts fresh
(--config.init_from=runs/seeds/seed003_affine continues instead).
Ablations: --config.optimizer.name=adam (the schedule and augmentation
without Adamax), --config.augment='' (the schedule and optimizer alone).
"""
from configs.seeds import seed003_common


def get_config():
  config = seed003_common.get_config('fashion_deep')
  config.augment = 'translate(0, 2)|flip_lr|elastic(alpha=(10, 12), sigma=4)'
  config.optimizer.name = 'adamax'
  config.optimizer.eps = 1e-7  # tf.keras' Adamax epsilon (optax: 1e-8)
  config.schedule.name = 'sgdr'
  config.optimizer.lr = 0.006  # CosineAnneal's max_lr (eta_max)
  config.schedule.min_lr = 0.001  # its min_lr (eta_min)
  config.schedule.t0_epochs = 10.0  # T=10 epochs
  config.schedule.t_mult = 1.0  # T_mul=1: every cycle 10 epochs
  return config
