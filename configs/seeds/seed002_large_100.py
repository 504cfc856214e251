r"""Seed 002: the large CNN for 100 epochs (decay 0.01/100), otherwise as configs/seeds/seed002_large.py.

  python -m cnnlab.main --config=configs/seeds/seed002_large_100.py \
      --workdir=runs/seeds/seed002_large_100

Seed 002 (lines 259-293) rebuilds the large model and trains it with
SGD(lr=0.01, momentum=0.9, decay=0.01/100), batch 64, 100 epochs; it printed
val accuracy 0.8248 after epoch 100 (line 435, on the test split; "82.48%",
line 454; its own evaluate() cell failed with a NameError, line 451).
cnnlab (cut short to 3 epochs, benchmarks/seeds.md): val accuracy 0.5382 after
epoch 3 against the seed's 0.5806 there (line 307); 0.4020 / 0.4726 at
epochs 1 / 2 against 0.4277 / 0.5156. The full 100 epochs take about 7 hours
on this shared 2-core CPU (253 s per epoch measured).
"""
from configs.seeds import seed002_common
from configs.seeds import seed002_large


def get_config():
  config = seed002_large.get_config()
  seed002_common.sgd_time_decay(config, epochs=100)
  return config
