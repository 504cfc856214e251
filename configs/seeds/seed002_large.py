r"""Seed 002: the large CNN (2,915,114 params), SGD with Keras' time decay, max-norm 3 on the hidden dense layers, 25 epochs.

  python -m cnnlab.main --config=configs/seeds/seed002_large.py \
      --workdir=runs/seeds/seed002_large

Seed 002 (lines 216-249): [Conv, Dropout .2, Conv, max pool] x 32/64/128
filters ('same'), Flatten, Dropout .2, Dense 1024 (maxnorm(3)), Dropout .2,
Dense 512 (maxnorm(3)), Dropout .2, Dense 10; SGD(lr=0.01, momentum=0.9,
decay=0.01/25), batch 64, 25 epochs, validating on the test split
(protocol: configs/seeds/seed002_common.py). Its params, 2,915,114, are
computed from those layers: the cell's summary() printed nothing.
The seed printed no number for this run: the cell is "In []:" with no
output (never run in the rendering); its text claims "an accuracy of about
80%" (line 253); benchmarks/seeds.py lists it with no seed number.
cnnlab: not run here (no seed number to compare with; seed002_large_100 is the
same network, and its first epochs were run: benchmarks/seeds.md). 25 epochs
take about 1.8 hours on this shared 2-core CPU (253 s per epoch measured).
"""
from configs.seeds import seed002_common


def get_config():
  config = seed002_common.get_config('large_cnn')
  seed002_common.sgd_time_decay(config, epochs=25)
  config.optimizer.max_norm = 3.0
  config.optimizer.max_norm_axes = 'keras'  # Keras' maxnorm(3): axis 0
  config.optimizer.max_norm_layers = r'^(Dense_0|Dense_1)/kernel$'  # Dense 1024 and 512
  config.batch_size = 64
  return config
