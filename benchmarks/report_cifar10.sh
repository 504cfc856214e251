#!/usr/bin/env bash
# Issue 5 evidence: every report file of a short real run on the shared CIFAR-10
# folder (3,000 images: 2,700 train / 300 val, 3 epochs of configs/vgg.py), then
# an evaluation with flip TTA, predictions for unlabelled images, show_data and
# a two-run comparison. Prints what each step wrote and how long it took.
# Usage: bash benchmarks/report_cifar10.sh [runs_dir]     (about 5-10 min on 2 cores)
set -euo pipefail
runs=${1:-runs/report_bench}
data=../shared/datasets/cifar10/train
mkdir -p "$runs"
common=(--config=configs/vgg.py --config.data.dir="$data" --config.data.max_examples=3000)
t() { local s=$SECONDS; "$@"; echo "  [$(( SECONDS - s )) s] $*" >&2; }

t python -m cnnlab.main "${common[@]}" --workdir="$runs/vgg" --config.num_epochs=3
t python -m cnnlab.main "${common[@]}" --workdir="$runs/vgg_sgd" --config.num_epochs=3 \
  --config.optimizer.name=sgd --config.optimizer.lr=0.05
t python -m cnnlab.evaluate --workdir="$runs/vgg" --tta=flip
t python -m cnnlab.show_data "${common[@]}" --out="$runs/samples.png"
t python -m cnnlab.report --workdirs "$runs/vgg" "$runs/vgg_sgd" --out="$runs/compare.png"
# Unlabelled images with Kaggle-style ids: 50 val images saved as <id>.png.
python - "$runs" <<'PY'
import os, sys
import numpy as np
from PIL import Image
runs = sys.argv[1]
folder = os.path.join(runs, 'unlabelled')
os.makedirs(folder, exist_ok=True)
from cnnlab import inference, input_pipeline
run = inference.load_run(os.path.join(runs, 'vgg'))
_, val = input_pipeline.load_splits(run.config)
for i in range(50):
  Image.fromarray(val.images[i]).save(os.path.join(folder, f'{1000 + i}.png'))
PY
t python -m cnnlab.predict --workdir="$runs/vgg" --input="$runs/unlabelled" \
  --output="$runs/submission.csv" --probabilities --tta=flip
find "$runs/vgg/report" "$runs/vgg/tensorboard" "$runs"/*.png "$runs"/*.csv "$runs"/*.md \
  -type f | sort
