r"""Seed 000's CIFAR-10 protocol, shared by its runs (seed000_baseline, _clr, _optimizers).

Seed 000 (seeds/seed000_cifar10_blog.txt, Keras 2, 2018) trains Keras'
cifar10_cnn-style network (`cnn`: Conv32 x2, pool, drop .25, Conv64 x2, pool,
drop .25, Dense 512, drop .5, Dense 10; its summary prints 2,168,362 params,
line 254) with batch 500 (80 steps per epoch on 40,000 images, line 309),
through `ImageDataGenerator(samplewise_center=True,
samplewise_std_normalization=True, horizontal_flip=True)` (lines 163-165).
Its SGD is Keras' `optimizers.SGD(lr=...)`: momentum 0, no decay.

Its split (`shuffle_split`, lines 110-123) draws 50,000 indices WITH
replacement (`np.random.choice(samples, samples)`) and cuts them 40,000 /
10,000: duplicated training images, about a third of the images never drawn,
and a val set of which roughly 1 - e^-0.8, about 55%, are also training
images (computed, not printed), so its val accuracy is optimistic. Its val
(and test) generators are the same ImageDataGenerator, so they are randomly
flipped too.

cnnlab deliberately differs: a proper stratified split of the 50,000
training images, 40,000 train / 10,000 val (data.val_fraction=0.2), each
image used once; val images are not flipped (the samplewise normalization,
a normalization op, does run on them).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'cnn'
  config.data.val_fraction = 0.2
  config.augment = 'flip_lr|samplewise_center|samplewise_std'
  config.optimizer.name = 'sgd'
  config.optimizer.momentum = 0.0  # Keras' SGD(lr=...): plain SGD
  config.optimizer.nesterov = False
  config.batch_size = 500
  return config
