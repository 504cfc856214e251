r"""Seed 002: the large CNN with less dropout (only the first conv's and the two dense layers'), 25 epochs.

  python -m cnnlab.main --config=configs/seeds/seed002_large_less_dropout.py \
      --workdir=runs/seeds/seed002_large_less_dropout

Seed 002 (lines 456-486) removes the dropout after the 64 and 128 pairs'
first convs and after Flatten, keeping Dropout .2 after the first conv and
after each hidden dense layer: model.dropout='0.2,0,0,0,0.2,0.2' over
large_cnn's six dropout layers in order; SGD(lr=0.01, momentum=0.9,
decay=0.01/25), batch 64, 25 epochs, max-norm 3 on the dense layers as
before. It printed val accuracy 0.7431 after epoch 25 (line 585, on the
test split; "Accuracy: 74.31%", line 586).
cnnlab (cut short to 3 epochs, benchmarks/seeds.md): val accuracy 0.5410 after
epoch 3 against the seed's 0.5946 there (line 500); 0.4330 / 0.4798 at
epochs 1 / 2 against 0.4439 / 0.5282. The full 25 epochs take about 2.5
hours on this shared 2-core CPU (369 s per epoch measured).
"""
from configs.seeds import seed002_large


def get_config():
  config = seed002_large.get_config()
  config.model.dropout = '0.2,0,0,0,0.2,0.2'
  return config
