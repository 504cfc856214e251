"""Addition and subtraction in one model ('0123456789+- ', 13 characters).

  python -m seq2seq.main --config=configs/seq2seq/mixed.py --workdir=runs/mixed
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '+-'
  # The same number of problems per operation as the others: 90,000 train.
  config.train_size = 100_000
  config.val_size = 10_000
  config.test_size = 10_000
  return config
