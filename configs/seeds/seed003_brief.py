r"""Seed 003: the brief model (Conv32, BN, pool, Dense 128, Dense 5; 804,037 params), Adam, 100 epochs.

  python -m cnnlab.main --config=configs/seeds/seed003_brief.py \
      --workdir=runs/seeds/seed003_brief --config.data.dir=<fashion_mnist_dataset_train.npy>

Seed 003 (lines 288-341; protocol: configs/seeds/seed003_common.py): Conv2D
32 3x3 'same' relu, BatchNormalization, MaxPooling 2x2, Flatten, Dense 128
relu, Dense 5 softmax (summary: 804,037 params, 803,973 trainable, line
320); compile(optimizer='adam'), batch 128, 100 epochs. It printed val
accuracy 0.8932 after epoch 100 (line 567) and test accuracy 0.8957
(line 575; "Val Set Accuracy 89.32", "Test Set Accuracy 89.57", lines
589-598).
cnnlab: not run here: needs the seed's .npy

Where cnnlab differs: the seed's loss is
SparseCategoricalCrossentropy(from_logits=Tru... (cut off in the
rendering, line 335) on the softmax output: softmax applied twice, which
flattens its gradients; cnnlab's cross-entropy takes the logits once, as
intended. cnnlab's split is its own stratified 80/10/10 (seed003_common).
"""
from configs.seeds import seed003_common


def get_config():
  return seed003_common.get_config('fashion_brief')
