r"""Seed 004d: the simplified VGG (640,502 params) on CIFAR-10 32x32x3.

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg

Defaults to the shared CIFAR-10 image folder (45,000 train / 5,000 val) with
Adam 1e-3 for 10 epochs (benchmarks/vgg_cifar10.md: 0.7494 val at epoch 10).
Seed 004 trained this network differently: Keras' Adadelta (lr 1.0, rho 0.95,
eps 1e-7), batch 300, 10 epochs, validating on the test split, and printed
val accuracy 0.7062 (seeds/seed004_cifar10_homework_lstm.txt).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'vgg'
  config.optimizer.name = 'adam'
  config.optimizer.lr = 1e-3
  config.optimizer.eps = 1e-7  # Keras' Adam epsilon (optax: 1e-8), as seed 004 trained
  config.num_epochs = 10
  return config
