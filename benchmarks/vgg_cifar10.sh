#!/usr/bin/env bash
# Foundation evidence: configs/vgg.py (seed 004d, 640,502 params) on the shared
# CIFAR-10 folder (45,000 train / 5,000 val, seed 0) for 10 epochs on this CPU.
# Usage: bash benchmarks/vgg_cifar10.sh [workdir]   (prints per-epoch metrics)
set -euo pipefail
workdir=${1:-runs/bench_vgg}
python -m cnnlab.main --config=configs/vgg.py --workdir="$workdir" \
  --config.data.name=image_folder --config.data.dir=../shared/datasets/cifar10/train \
  --config.num_epochs=10 --config.optimizer.name=adam --config.optimizer.lr=1e-3
python - "$workdir" <<'PY'
import sys
from cnnlab.core import history
for r in history.read(sys.argv[1]):
  print(f"epoch {r['epoch']:2d}  val_acc {r['val_accuracy']:.4f}  train_acc {r['train_accuracy']:.4f}"
        f"  img/s {r['images_per_sec']:.0f}  epoch_s {r['epoch_seconds']:.0f}  elapsed_s {r['elapsed_seconds']:.0f}")
PY
