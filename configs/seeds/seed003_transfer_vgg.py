r"""Seed 003's transfer learning with VGG16 (configs/seeds/seed003_transfer_common.py).

  python -m cnnlab.main --config=configs/seeds/seed003_transfer_vgg.py --workdir=runs/seeds/seed003_transfer_vgg

Frozen ImageNet VGG16 base (14,714,688 params), Flatten, Dense 4096 relu,
Dropout 0.5, Dense 4096 relu, Dropout 0.5, Dense 5: 33,617,733 params,
18,903,045 trainable. Seed 003 printed, after 100 epochs (10.5 min on a
Colab GPU): train 92.92%, val 86.78% (last epoch val_accuracy 0.8678), test
85.42% (evaluate: loss 0.3900, accuracy 0.8542).

Not run here: needs ImageNet weights
(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, see the README).
"""
from configs.seeds import seed003_transfer_common


def get_config():
  return seed003_transfer_common.get_config('vgg16', head_widths=(4096, 4096),
                                            head_dropout=0.5)
