#!/usr/bin/env bash
# One-off cross-check of cnnlab's airbench against PyTorch, the framework airbench is written in:
# the same weights and batch through cnnlab's Flax model and a PyTorch transcription of
# legacy/airbench94.py's network; train-mode logits, loss, gradients and BN statistics, eval
# logits, then 3 steps of cnnlab's airbench_sgd against torch.optim.SGD with airbench's
# parameter groups and LambdaLR. PyTorch is not a cnnlab dependency: give it a venv of its own.
#   python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0 numpy
#   bash benchmarks/airbench_torch_check/run.sh /tmp/tv/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p /tmp/xcheck
.venv/bin/python benchmarks/airbench_torch_check/flax_side.py > /dev/null
"${1:-python}" benchmarks/airbench_torch_check/torch_side.py
