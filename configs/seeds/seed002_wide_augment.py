r"""Seed 002: the wide CNN (no dropout) trained on for 200 more epochs with zoom and flip augmentation.

  python -m cnnlab.main --config=configs/seeds/seed002_wide_augment.py \
      --workdir=runs/seeds/seed002_wide_augment

Seed 002 (lines 713-726) continues training the model of seed002_wide (the
same `model` object, already trained 100 epochs) with
ImageDataGenerator(zoom_range=0.2, horizontal_flip=True), batch 128
(fit_generator's legacy samples_per_epoch=50,000; Keras turns it into 390
steps per epoch, as its warning for the next cell says, line 850), 200
epochs, Adam continuing; it printed val accuracy 0.8324 after epoch 200
(line 780, on the test split).
cnnlab: not run here: the seed printed nothing before its epoch 184 (of 200,
after seed002_wide's 100), so a comparison needs about 290 epochs of the wide
net, about 23 hours on this shared 2-core CPU (281 s per epoch measured for
seed002_wide).

cnnlab starts from seed002_wide's best checkpoint (config.init_from: run
configs/seeds/seed002_wide.py first) with a fresh Adam state (the seed's
moments carried over); Keras applies the zoom, then the flip, as the spec
does ('zoom(0.2)|flip_lr', fill mode nearest).
"""
from configs.seeds import seed002_wide


def get_config():
  config = seed002_wide.get_config()
  config.init_from = 'runs/seeds/seed002_wide'
  config.augment = 'zoom(0.2)|flip_lr'
  config.num_epochs = 200
  return config
