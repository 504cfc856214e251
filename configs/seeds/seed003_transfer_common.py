r"""Seed 003's transfer-learning protocol, shared by seed003_transfer_resnet and _vgg.

Seed 003 (seeds/seed003_fashion_mnist_kaggle.txt) takes Kaggle's Fashion-MNIST
file (60,000 28x28 gray images, labels 1..5, an arrays file with features /
target), splits it 48,000 train / 6,000 val / 6,000 test, pads the images to
32x32 (tf.pad, zeros), repeats the channel to RGB, and puts a new head on an
ImageNet base loaded with weights='imagenet', include_top=False, every base
layer trainable=False. Adam at Keras' defaults (lr 1e-3, epsilon 1e-7),
sparse categorical cross-entropy, batch 128, 100 epochs. It feeds the pixels
as the file holds them (in [0, 1]) and never calls preprocess_input.

Here (seed003_common's data protocol): the real Fashion-MNIST by default
(the official idx files, 10 classes, 6,000 val carved from the 60,000
training images, the official 10,000 test images evaluated once at the end),
or the seed's Kaggle file with --config.data.name=arrays --config.data.dir=<.npy>
and the seed's 80/10/10 (48,000 / 6,000 / 6,000, stratified and seeded; the
test part evaluated once at the end, as the seed evaluated its test split);
padding and the channel repeat inside the model (model.input_size=32,
resize_method 'pad'); the frozen base as Keras freezes it:
config.freeze='^backbone/' (no updates) with model.frozen_batchnorm='^backbone/'
(ResNet's BatchNorm uses and keeps its ImageNet statistics).
model.preprocess='unit' feeds x / 255 as the seed did; 'caffe' (the
backbones' default) is the convention the ImageNet weights were trained with.
The notop file is looked up where keras.applications
downloads it (~/.keras/models/); nothing downloads here.
"""
from configs.seeds import seed003_common


def get_config(backbone: str, head_widths, head_dropout=None):
  config = seed003_common.get_config(backbone)  # its data, split, Adam, batch 128, 100 epochs
  config.model.backbone_weights = f'{backbone}_weights_tf_dim_ordering_tf_kernels_notop.h5'
  config.model.input_size = 32
  config.model.resize_method = 'pad'
  config.model.preprocess = 'unit'
  config.model.pooling = 'flatten'
  config.model.head_widths = tuple(head_widths)
  config.model.head_dropout = head_dropout
  config.model.frozen_batchnorm = '^backbone/'
  config.freeze = '^backbone/'
  return config
