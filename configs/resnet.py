r"""CIFAR ResNet-20 (He et al. 2016, option A shortcuts): 0.27M params.

  python -m cnnlab.main --config=configs/resnet.py --workdir=runs/resnet20
  python -m cnnlab.main --config=configs/resnet.py --config.model.name=resnet56

SGD with momentum 0.9 and cosine decay from 0.1; the paper's 91.25% test
accuracy needs ~160 epochs with flips and 4-pixel shifts.
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'resnet20'
  config.optimizer.name = 'sgd'
  config.optimizer.lr = 0.1
  config.optimizer.momentum = 0.9
  config.optimizer.nesterov = True
  config.schedule.name = 'cosine'
  config.num_epochs = 30
  return config
