r"""Seed 004b: one conv layer (Conv32, pool, Dense 10; 82,826 params) with seed 004's protocol (configs/seeds/seed004_common.py).

  python -m cnnlab.main --config=configs/seeds/seed004_conv1.py --workdir=runs/seeds/seed004_conv1

Seed 004 printed val accuracy 0.592 after 10 epochs (on the 10,000 test images).
cnnlab: val accuracy 0.5858 after epoch 10, best 0.5928 at epoch 9 (45,000 / 5,000; benchmarks/seeds.md).
"""
from configs.seeds import seed004_common


def get_config():
  return seed004_common.get_config('conv1')
