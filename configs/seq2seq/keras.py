"""The Keras addition_rnn example as written: keras_lstm, batch 32, adam 1e-3.

Answers are emitted as written (not reversed). This is Keras' addition example; seed 004
ran subtraction with this model at batch 128 (configs/seeds/seed004_subtraction.py),
reaching 98.06% val exact match after 39 epochs of 45,000.

  python -m seq2seq.main --config=configs/seq2seq/keras.py --workdir=runs/keras
"""
from configs.seq2seq import base


def get_config():
  config = base.get_config()
  config.operation = '+'
  config.model.name = 'keras_lstm'
  config.reverse_target = False
  config.batch_size = 32
  config.optimizer.lr = 1e-3
  config.optimizer.grad_clip_norm = 0.0  # Keras' adam does not clip
  config.num_epochs = 40
  return config
