r"""Seed 004, problem 2: the simplified VGG with augmentation, 20 epochs.

  python -m cnnlab.main --config=configs/seeds/seed004_vgg_augment.py \
      --workdir=runs/seeds/seed004_vgg_augment

Seed 004 trains its best network (d) with Keras' ImageDataGenerator
(width_shift_range=0.1, height_shift_range=0.1, vertical_flip=True, fill
mode 'nearest'), Adadelta, batch 300, 20 epochs, and printed val accuracy
0.7055 (on the 10,000 test images). Protocol otherwise as
configs/seeds/seed004_common.py.
cnnlab (cut short to 3 epochs, benchmarks/seeds.md): val accuracy 0.3512 after
epoch 3 against the seed's 0.3758 there (line 764); 0.2200 / 0.2392 at epochs
1 / 2 against 0.2574 / 0.3319. The full 20 epochs take about 45 minutes on
this 2-core CPU (127-132 s per epoch measured, alone).
"""
from configs.seeds import seed004_common


def get_config():
  config = seed004_common.get_config('vgg')
  config.augment = 'translate(0.1)|flip_ud'
  config.num_epochs = 20
  return config
