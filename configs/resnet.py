r"""CIFAR ResNet-20 (He et al. 2016, option A shortcuts): 0.27M params.

  python -m cnnlab.main --config=configs/resnet.py --workdir=runs/resnet20
  python -m cnnlab.main --config=configs/resnet.py --workdir=runs/resnet56 \
      --config.model.name=resnet56

SGD with Nesterov momentum 0.9 and cosine decay from 0.1, no augmentation (so
benchmarks/throughput.py times the bare step). The paper's 91.25% test accuracy
needs ~160 epochs with its augmentation and weight decay 1e-4:

  python -m cnnlab.main --config=configs/resnet.py --workdir=runs/resnet20_paper \
      --config.augment='pad_crop(4, fill_mode="constant")|flip_lr' \
      --config.optimizer.l2=5e-5 --config.num_epochs=160

(Keras-style l2 adds l2 * sum(w^2) to the loss: 5e-5 is the paper's 1e-4 decay.)
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
