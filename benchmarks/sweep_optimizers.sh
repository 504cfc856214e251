#!/usr/bin/env bash
# Issue 4 evidence: configs/vgg.py with 3 optimizers (each at its usual lr:
# SGD+momentum 0.01, Adam 1e-3, RMSprop 1e-3 with Keras' epsilon placement)
# x 2 seeds, 4 epochs on a 3,000-image stratified subset of the shared
# CIFAR-10 folder (2,700 train / 300 val), batch 64.
# Usage: bash benchmarks/sweep_optimizers.sh [workdir] [--report_only]
#   -> workdir/sweep.png, sweep.md, sweep.json; rerun skips finished runs.
set -euo pipefail
workdir=${1:-runs/sweep_optimizers}
shift $(( $# > 0 ? 1 : 0 ))
python -m cnnlab.sweep --config=configs/vgg.py --workdir="$workdir" --seeds=2 \
  --sweep='optimizer.name:optimizer.lr=sgd:0.01,adam:0.001,rmsprop:0.001' \
  --config.data.name=image_folder --config.data.dir=../shared/datasets/cifar10/train \
  --config.data.max_examples=3000 --config.num_epochs=4 --config.batch_size=64 \
  --config.optimizer.eps_in_sqrt=False "$@" --title='vgg, CIFAR-10 subset: 2,700 train / 300 val images, 4 epochs, batch 64'
