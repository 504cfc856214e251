r"""Seed 004a: the MLP (Flatten, Dense 300 relu, Dropout .5, Dense 10; 924,910 params) with seed 004's protocol (configs/seeds/seed004_common.py).

  python -m cnnlab.main --config=configs/seeds/seed004_mlp.py --workdir=runs/seeds/seed004_mlp

Seed 004 printed val accuracy 0.4017 after 10 epochs (on the 10,000 test images).
cnnlab: val accuracy 0.4066 after epoch 10 (45,000 train / 5,000 val; benchmarks/seeds.md).
"""
from configs.seeds import seed004_common


def get_config():
  return seed004_common.get_config('mlp')
