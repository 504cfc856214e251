"""3-digit subtraction; answers may be negative ('0123456789- ', 12 characters).

Twice Keras' training problems: subtraction over-fits 45,000 (held-out
accuracy swings between epochs), and with 90,000 it reaches 99.5% held-out
exact match sooner in steps too (benchmarks/seq2seq_results.md). 95,000 drawn:
90,000 train, 5,000 val. Keras' sizes: --config.train_size=50000.

  python -m seq2seq.main --config=configs/seq2seq/subtract.py --workdir=runs/sub
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '-'
  config.train_size = 95_000  # 90,000 train + 5,000 val
  return config
