r"""Seed 002: the simple CNN (4,210,090 params), SGD with Keras' time decay, max-norm 3.

  python -m cnnlab.main --config=configs/seeds/seed002_simple.py \
      --workdir=runs/seeds/seed002_simple

Seed 002 (seeds/seed002_cifar10_homework.txt): Conv32 (max-norm 3), Dropout .2,
Conv32 (max-norm 3), max pool, Flatten, Dense 512 (max-norm 3), Dropout .5,
Dense 10; Keras 2's SGD(lr=0.01, momentum=0.9, decay=0.01/25, nesterov=False)
(lr / (1 + 0.0004 * step)), batch 32, 25 epochs, pixels / 255, no
augmentation, trained on all 50,000 images, validating on the 10,000 test
images; it printed val accuracy 0.6988 after epoch 25 ("Accuracy: 69.88%").
Keras' maxnorm(3) bounds each kernel's norm over axis 0 (cnnlab's
max_norm_axes='keras') on the three layers named, not on the output layer.

cnnlab's protocol differs where it must: the test split is not available
here, so 5,000 training images (stratified, seeded) validate and 45,000 train
(1,406 steps of 32 per epoch, the decay per step as Keras counts it).
cnnlab (benchmarks/seeds.md): val accuracy 0.6920 after epoch 25 (best 0.6932
at epoch 19), against the seed's 0.6988; ahead of the seed's curve for the
first ten epochs (0.6836 against 0.6737 at epoch 10). That run predates
momentum_style='keras' (optax's convention: under a decay of 4e-4 per step the
two differ by well under 1% per step).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'simple_cnn'
  config.optimizer.name = 'sgd'
  config.optimizer.lr = 0.01
  config.optimizer.momentum = 0.9
  config.optimizer.nesterov = False
  config.optimizer.momentum_style = 'keras'  # v = 0.9 v - lr g: the decayed lr inside v
  config.optimizer.max_norm = 3.0
  config.optimizer.max_norm_axes = 'keras'
  config.optimizer.max_norm_layers = r'^(Conv_0|Conv_1|Dense_0)/kernel$'
  config.schedule.name = 'time_based'
  config.schedule.time_decay = 0.01 / 25
  config.batch_size = 32
  config.num_epochs = 25
  return config
