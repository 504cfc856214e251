#!/usr/bin/env bash
# Issue 4 evidence: LR range test of configs/vgg.py (seed 004d, Adam) on a
# 10,000-image stratified subset of the shared CIFAR-10 folder (9,000 train),
# 200 steps of batch 128 from lr 1e-6 to 1 (about 2.8 epochs).
# Usage: bash benchmarks/lr_find_vgg.sh [out]   -> out/lr_find.png, out/lr_find.json
set -euo pipefail
out=${1:-benchmarks/lr_find_vgg}
python -m cnnlab.lr_find --config=configs/vgg.py --out="$out" \
  --config.data.name=image_folder --config.data.dir=../shared/datasets/cifar10/train \
  --config.data.max_examples=10000 --min_lr=1e-6 --max_lr=1 --num_steps=200
