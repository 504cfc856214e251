r"""Seed 004's CIFAR-10 protocol, shared by its four networks (seed004_mlp, _conv1, _conv4, _vgg).

Seed 004 (seeds/seed004_cifar10_homework_lstm.txt) trains each network with
Keras 2's Adadelta at its defaults (lr 1.0, rho 0.95, epsilon 1e-7), batch
300, 10 epochs, pixels scaled to [0, 1], no augmentation, on all 50,000
training images, validating on the 10,000 test images after every epoch.

cnnlab's protocol differs where it must: the official test split is not
available here, so 5,000 of the 50,000 training images (stratified, seeded)
validate and 45,000 train (150 steps of 300 per epoch; Keras' 167 included a
last partial batch). The seed's val numbers were measured on other images.
With internet, --config.data.name=cifar10 --config.data.val_split=test runs
the seed's protocol exactly (tfds; the log says selecting on a test split is
optimistic).
"""
from configs import base


def get_config(model: str = 'vgg'):
  config = base.get_config()
  config.model.name = model
  config.optimizer.name = 'adadelta'
  config.optimizer.lr = 1.0  # Keras 2's Adadelta default (Keras 3: 1e-3)
  config.optimizer.rho = 0.95
  config.optimizer.eps = 1e-7
  config.batch_size = 300
  config.num_epochs = 10
  return config
