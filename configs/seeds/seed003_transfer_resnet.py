r"""Seed 003's transfer learning with ResNet152 (configs/seeds/seed003_transfer_common.py).

  python -m cnnlab.main --config=configs/seeds/seed003_transfer_resnet.py --workdir=runs/seeds/seed003_transfer_resnet

Frozen ImageNet ResNet152 base (58,370,944 params), Flatten, Dense 1000 relu,
Dense 5: 60,424,949 params, 2,054,005 trainable. Seed 003 printed, after 100
epochs (28 min on a Colab GPU): train 82.23%, val 80.28% (last epoch
val_accuracy 0.8028), test 81.13% (evaluate: loss 0.4626, accuracy 0.8113).

Not run here: needs ImageNet weights
(resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5, see the README).
Stand-in for a CPU: the same code with ResNet50's block counts,
--config.model.name=resnet50
--config.model.backbone_weights=resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
(23.6M base params instead of 58.4M).
"""
from configs.seeds import seed003_transfer_common


def get_config():
  return seed003_transfer_common.get_config('resnet152', head_widths=(1000,))
