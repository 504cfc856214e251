r"""Seed 000: the Keras cifar10_cnn baseline (2,168,362 params).

  python -m cnnlab.main --config=configs/cnn.py --workdir=runs/cnn

RMSprop 1e-4 as in the Keras example (it trains slowly; seed 000 used 50+ epochs).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'cnn'
  config.optimizer.name = 'rmsprop'
  config.optimizer.lr = 1e-4
  config.batch_size = 32
  config.num_epochs = 50
  return config
