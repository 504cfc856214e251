#!/usr/bin/env bash
# Trains the time-to-accuracy runs one after another (each resumes if its
# workdir exists), then writes the table and figure:
#   bash benchmarks/time_to_accuracy.sh [runs/tta] [queue...]
# A queue entry is <config name>:<seed>[:<epochs>], e.g. airbench:0 airbench_cpu:1
# resnet:0:10 (epochs overrides the config's num_epochs, to fit a CPU session).
# Fashion-MNIST: TTA_SUMMARY_ARGS="--name=fashion_mnist --targets=0.94,0.95 --ymin=0.8" \
#   bash benchmarks/time_to_accuracy.sh runs/tta_fm fashion_fast:0 fashion_fast:1 fashion_fast:2
set -uo pipefail
cd "$(dirname "$0")/.."
root="${1:-runs/tta}"; shift || true
queue=("$@")
if [ ${#queue[@]} -eq 0 ]; then
  queue=(airbench:0 airbench_cpu:0 airbench:1 airbench_cpu:1 airbench_cpu:2 vgg:0 resnet:0:10)
fi
py="${PYTHON:-.venv/bin/python}"
for entry in "${queue[@]}"; do
  IFS=: read -r name seed epochs <<< "$entry"
  extra=()
  [ -n "${epochs:-}" ] && extra=(--config.num_epochs="$epochs")
  workdir="$root/${name}_s${seed}"
  mkdir -p "$workdir"
  echo "$(date -u +%FT%TZ) start $workdir" >> "$root/queue.log"
  "$py" -m cnnlab.main --config="configs/${name}.py" --workdir="$workdir" \
      --config.seed="$seed" "${extra[@]}" > "$workdir/train.log" 2>&1
  echo "$(date -u +%FT%TZ) end $workdir rc=$?" >> "$root/queue.log"
done
# TTA_SUMMARY_ARGS: the summary's own flags, e.g. "--name=fashion_mnist --targets=0.94,0.95".
"$py" benchmarks/time_to_accuracy.py --root="$root" ${TTA_SUMMARY_ARGS:-}
