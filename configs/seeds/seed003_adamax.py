r"""Seed 003 ablation: the deeper model trained as seed003_deeper but with Adamax (tf.keras defaults), no augmentation, constant lr.

  python -m cnnlab.main --config=configs/seeds/seed003_adamax.py --workdir=runs/seeds/seed003_adamax
  # the seed's own 5-class Kaggle file instead of the official 10-class files:
  python -m cnnlab.main --config=configs/seeds/seed003_adamax.py --workdir=runs/seeds/seed003_adamax_kaggle \
      --config.data.name=arrays --config.data.dir=<fashion_mnist_dataset_train.npy>

Seed 003 switched to Adamax only together with elastic augmentation and
SGDR (configs/seeds/seed003_elastic_sgdr.py; its Adamax section, lines
1456-1465, and table, line 1974): it printed no number for Adamax alone,
so this config isolates the optimizer. Compare with seed003_deeper (the seed
printed val 0.9195, line 934, with Adam) and seed003_elastic_sgdr (val
0.9133, line 1866). Adamax at tf.keras' defaults: lr 0.001, b1 0.9, b2
0.999, epsilon 1e-7; batch 128, 100 epochs (protocol:
configs/seeds/seed003_common.py).
cnnlab on the real Fashion-MNIST (10 classes, cut to 10 epochs): best val 0.9213 (epoch 10),
official test 0.9198 (benchmarks/seeds.md, beside the dataset's published table).
"""
from configs.seeds import seed003_common


def get_config():
  config = seed003_common.get_config('fashion_deep')
  config.optimizer.name = 'adamax'
  config.optimizer.lr = 0.001
  config.optimizer.eps = 1e-7
  return config
