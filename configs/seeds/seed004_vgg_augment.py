r"""Seed 004, problem 2: the simplified VGG with augmentation, 20 epochs.

  python -m cnnlab.main --config=configs/seeds/seed004_vgg_augment.py \
      --workdir=runs/seeds/seed004_vgg_augment

Seed 004 trains its best network (d) with Keras' ImageDataGenerator
(width_shift_range=0.1, height_shift_range=0.1, vertical_flip=True, fill
mode 'nearest'), Adadelta, batch 300, 20 epochs, and printed val accuracy
0.7055 (on the 10,000 test images). Protocol otherwise as
configs/seeds/seed004_common.py.
cnnlab: not measured yet (benchmarks/seeds.md lists what has run).
"""
from configs.seeds import seed004_common


def get_config():
  config = seed004_common.get_config('vgg')
  config.augment = 'translate(0.1)|flip_ud'
  config.num_epochs = 20
  return config
