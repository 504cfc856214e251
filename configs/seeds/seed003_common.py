r"""Seed 003's 5-class Fashion-MNIST protocol, shared by its runs (seed003_brief, _deeper, _affine, _elastic_sgdr, _adamax).

Seed 003 (seeds/seed003_fashion_mnist_kaggle.txt, tf.keras 2.x on Colab)
loads a Kaggle .npy holding a dict {'features': (60000, 28, 28) floats,
'target': 1.0..5.0} (lines 151-203; about 12,000 images per class, lines
270-281), maps the targets to 0..4 (line 205) and splits it with sklearn's
train_test_split into 48,000 train / 6,000 val / 6,000 test (lines 210-222;
the test_size and random_state arguments are cut off in the rendering).
Every run: batch 128 (375 steps per epoch), 100 epochs, Adam unless noted
(its hyperparameter tables, lines 1956-1990; tf.keras defaults: lr 0.001,
epsilon 1e-7), validating on the 6,000 val images each epoch; the test
images are evaluated once at the end.

cnnlab: data.name='arrays' reads the same .npy (features/target; the
targets 1..5 are remapped to 0..4 and kept in meta.json, so predictions
and `predict --label_column=target` give 1..5 back). data.val_fraction=0.1
and data.test_fraction=0.1 (fractions of the whole) are the seed's
80/10/10, stratified and seeded (the seed's own random split cannot be
recovered); the test part is evaluated once, on the best checkpoint, into
eval_test.json. The model's head has 5 units (the data's classes).
Not run here: needs the seed's Kaggle file (Fashion-MNIST is not available
offline; the tests train every seed 003 config for an epoch on a generated
file in the same format).
"""
from configs import base

# The seed's file name (line 151, underscores lost in the rendering); pass
# --config.data.dir=<path to it>.
DATA_FILE = 'fashion_mnist_dataset_train.npy'


def get_config(model: str = 'fashion_deep'):
  config = base.get_config()
  config.data.name = 'arrays'
  config.data.dir = DATA_FILE
  config.data.val_fraction = 0.1
  config.data.test_fraction = 0.1
  config.model.name = model
  config.optimizer.name = 'adam'  # tf.keras' 'adam'
  config.optimizer.lr = 0.001
  config.optimizer.eps = 1e-7
  config.batch_size = 128
  config.num_epochs = 100
  return config
