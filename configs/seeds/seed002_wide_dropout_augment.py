r"""Seed 002: the wide CNN with dropout (.25 after each pool, .5 after each hidden dense), zoom and flip, 100 epochs.

  python -m cnnlab.main --config=configs/seeds/seed002_wide_dropout_augment.py \
      --workdir=runs/seeds/seed002_wide_dropout_augment

Seed 002 (lines 790-821): the wide net with Dropout .25 after each of the
three pools and Dropout .5 after Dense 512 and Dense 256 (wide_cnn as
registered; summary: 1,172,410 params, line 844), a fresh model,
`optimizer='adam'`, ImageDataGenerator(zoom_range=0.2,
horizontal_flip=True), batch 128 (390 steps per epoch, line 850), 100
epochs; it printed val accuracy 0.8342 after epoch 100 (line 908, on the
test split; "83.42%", line 938).
cnnlab: not run here: the seed printed nothing before epoch 82, so a
comparison needs 82-100 epochs of the wide net, about 6.5-8 hours on this
shared 2-core CPU (281 s per epoch measured for seed002_wide).
"""
from configs.seeds import seed002_common


def get_config():
  config = seed002_common.get_config('wide_cnn')
  seed002_common.keras_adam(config)
  config.augment = 'zoom(0.2)|flip_lr'
  config.batch_size = 128
  config.num_epochs = 100
  return config
