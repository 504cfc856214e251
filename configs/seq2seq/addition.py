"""3-digit addition: the Keras addition_rnn problem (45,000 train / 5,000 val, as Keras; 5,000 test).

  python -m seq2seq.main --config=configs/seq2seq/addition.py --workdir=runs/add
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '+'
  return config
