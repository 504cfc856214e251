r"""Seed 002: the wide CNN without dropout (1,172,410 params), Keras' Adam, batch 128, 100 epochs.

  python -m cnnlab.main --config=configs/seeds/seed002_wide.py \
      --workdir=runs/seeds/seed002_wide

Seed 002 (lines 593-613): Conv48 'same', Conv48 'valid', pool, the same with
96 and 192 filters, Flatten, Dense 512, Dense 256, Dense 10, no dropout
(wide_cnn with model.dropout='0'; summary: 1,172,410 params, line 632);
`optimizer='adam'` (Keras 2 defaults), batch 128, 100 epochs, validating on
the test split (protocol: configs/seeds/seed002_common.py). It printed val
accuracy 0.7807 after epoch 100 (line 704).
cnnlab (cut short to 3 epochs, benchmarks/seeds.md): val accuracy 0.6396 after
epoch 3 against the seed's 0.6956 there (line 648); 0.4934 / 0.6028 at
epochs 1 / 2 against 0.5604 / 0.5966. The full 100 epochs take about 8
hours on this shared 2-core CPU (281 s per epoch measured).
"""
from configs.seeds import seed002_common


def get_config():
  config = seed002_common.get_config('wide_cnn')
  config.model.dropout = '0'  # the seed's first wide net has none
  seed002_common.keras_adam(config)
  config.batch_size = 128
  config.num_epochs = 100
  return config
