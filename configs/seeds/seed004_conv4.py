r"""Seed 004c: four conv layers ([Conv32 x2, pool] x2, Dense 100, Dense 10; 234,550 params) with seed 004's protocol (configs/seeds/seed004_common.py).

  python -m cnnlab.main --config=configs/seeds/seed004_conv4.py --workdir=runs/seeds/seed004_conv4

Seed 004 printed val accuracy 0.6791 after 10 epochs (on the 10,000 test images).
cnnlab: val accuracy 0.6698 after epoch 10 (45,000 / 5,000; benchmarks/seeds.md).
"""
from configs.seeds import seed004_common


def get_config():
  return seed004_common.get_config('conv4')
