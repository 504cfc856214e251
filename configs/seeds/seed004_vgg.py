r"""Seed 004d: the simplified VGG (640,502 params) with seed 004's protocol (configs/seeds/seed004_common.py).

  python -m cnnlab.main --config=configs/seeds/seed004_vgg.py --workdir=runs/seeds/seed004_vgg

Seed 004 printed val accuracy 0.7062 after 10 epochs (on the 10,000 test images).
cnnlab: val accuracy 0.6878 after epoch 10 (45,000 / 5,000; benchmarks/seeds.md).
"""
from configs.seeds import seed004_common


def get_config():
  return seed004_common.get_config('vgg')
