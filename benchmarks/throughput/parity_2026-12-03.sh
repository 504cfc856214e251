#!/usr/bin/env bash
# issue 22 point 4: airbench_cpu (8 epochs, seed 0) with compute.dtype=bfloat16, then with float32
# products (the rule's choice here), one after the other; val accuracy (and wall time).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
for dtype in bfloat16 float32; do
  workdir=runs/parity_airbench_cpu_$dtype
  rm -rf "$workdir"; mkdir -p "$workdir"
  /usr/bin/time -f "wall %e s" $python -m cnnlab.main --config=configs/airbench_cpu.py \
      --workdir="$workdir" --config.seed=0 --config.compute.dtype=$dtype > "$workdir/train.log" 2>&1
  tail -1 "$workdir/train.log"
done
