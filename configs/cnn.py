r"""Seed 000: the Keras cifar10_cnn baseline (2,168,362 params).

  python -m cnnlab.main --config=configs/cnn.py --workdir=runs/cnn

RMSprop 1e-4 as in the Keras example (it trains slowly; seed 000 used 50+ epochs),
with Keras' RMSprop(learning_rate=1e-4, decay=1e-6) semantics: epsilon 1e-7
added outside the square root, and the legacy per-step decay lr / (1 + 1e-6 t).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'cnn'
  config.optimizer.name = 'rmsprop'
  config.optimizer.lr = 1e-4
  # Keras' RMSprop defaults (optax: eps 1e-8 inside the root, see configs/base.py).
  config.optimizer.rho = 0.9
  config.optimizer.eps = 1e-7
  config.optimizer.eps_in_sqrt = False
  config.schedule.name = 'time_based'
  config.schedule.time_decay = 1e-6
  config.batch_size = 32
  config.num_epochs = 50
  return config
