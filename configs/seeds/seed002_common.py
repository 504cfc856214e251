r"""Seed 002's CIFAR-10 protocol and its two training recipes (seed002_simple, _large*, _wide*, _bn*).

Seed 002 (seeds/seed002_cifar10_homework.txt, Keras 2.3, 2019) scales pixels
by 1/255 (lines 48-52), trains on all 50,000 training images and validates
on the 10,000 test images after every epoch ("Train on 50000 samples,
validate on 10000 samples", e.g. line 113), reporting the last epoch's
val accuracy. Two recipes:
  * sgd_time_decay: Keras 2's SGD(lr=0.01, momentum=0.9, decay=0.01 / epochs,
    nesterov=False), i.e. lr / (1 + decay * step) per update, the lr inside
    the velocity as Keras puts it (optimizer.momentum_style='keras');
  * keras_adam: `optimizer='adam'`, Keras 2's Adam defaults (lr 0.001,
    epsilon 1e-7).

cnnlab's protocol differs where it must: the test split is not available
here, so 5,000 training images (stratified, seeded) validate and 45,000
train. A user with internet runs the seed's protocol exactly with
--config.data.name=cifar10 --config.data.val_split=test
(tfds: all 50,000 train, the 10,000 test images validate), or with the test
images as a folder, --config.data.val_dir=<cifar10 test folder>; the log then
says that numbers selected on a test split are optimistic.
"""
from configs import base


def sgd_time_decay(config, epochs: int):
  """Seed 002's SGD: lr 0.01, momentum 0.9, Keras decay 0.01 / epochs per step."""
  config.optimizer.name = 'sgd'
  config.optimizer.lr = 0.01
  config.optimizer.momentum = 0.9
  config.optimizer.nesterov = False
  config.optimizer.momentum_style = 'keras'  # v = 0.9 v - lr g: the decayed lr inside v
  config.schedule.name = 'time_based'
  config.schedule.time_decay = 0.01 / epochs
  config.num_epochs = epochs
  return config


def keras_adam(config):
  """Keras 2's `optimizer='adam'`: lr 0.001, epsilon 1e-7."""
  config.optimizer.name = 'adam'
  config.optimizer.lr = 0.001
  config.optimizer.eps = 1e-7
  return config


def get_config(model: str):
  config = base.get_config()
  config.model.name = model
  return config
