#!/usr/bin/env bash
# issue 22's same-run comparison (peers: bash benchmarks/peers/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/throughput
computes=auto,onednn/xla/float32,auto/im2col/float32,auto/xla/bfloat16
python=${PYTHON:-.venv/bin/python}
$python benchmarks/throughput.py --models=vgg,resnet20 --batch_size=128 --steps=6 --trials=5 \
    --computes=$computes --json=$out/zen4_batch128.json
$python benchmarks/throughput.py --models=airbench_cpu --batch_size=512 --steps=2 --trials=4 \
    --computes=$computes --json=$out/zen4_airbench_batch512.json
