"""3-digit subtraction; answers may be negative ('0123456789- ', 12 characters).

  python -m seq2seq.main --config=configs/seq2seq/subtract.py --workdir=runs/sub
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '-'
  return config
