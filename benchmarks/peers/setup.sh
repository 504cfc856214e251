#!/usr/bin/env bash
# The peers of benchmarks/throughput.py (Keras 3 on TensorFlow, PyTorch) in a venv of their own,
# benchmarks/peers/.venv: never in cnnlab's dependencies.
#   bash benchmarks/peers/setup.sh
# PyTorch: the CPU build. Where pip's index is PyPI itself, pass the CPU wheel index, e.g.
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu bash benchmarks/peers/setup.sh
# (plain PyPI's Linux torch pulls several GB of CUDA libraries).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
pip="$here/.venv/bin/python -m pip"
$pip install -q --upgrade pip
# 2.13.0: the CPU build this project's machines hold on disk; any recent CPU build works.
$pip install -q ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "torch==${TORCH_VERSION:-2.13.0}"
$pip install -q tensorflow-cpu keras numpy
"$here/.venv/bin/python" -c "import torch, keras, tensorflow as tf; \
print('peers ready: torch', torch.__version__, '| keras', keras.__version__, '| tensorflow', tf.__version__)"
