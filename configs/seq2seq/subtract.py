"""3-digit subtraction; answers may be negative ('0123456789- ', 12 characters).

Twice Keras' training problems: subtraction over-fits 45,000 (held-out
accuracy swings between epochs), and with 90,000 it reaches 99.5% held-out
exact match sooner in steps too (benchmarks/seq2seq_results.md). Keras' sizes:
--config.train_size=45000.

  python -m seq2seq.main --config=configs/seq2seq/subtract.py --workdir=runs/sub
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '-'
  config.train_size = 90_000
  return config
