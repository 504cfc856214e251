#!/usr/bin/env bash
# Trains the time-to-accuracy runs one after another (each resumes if its
# workdir exists), then writes the table and figure:
#   bash benchmarks/time_to_accuracy.sh [runs/tta] [queue...]
# A queue entry is <config name>:<seed>, e.g. airbench:0 airbench_cpu:1.
set -uo pipefail
cd "$(dirname "$0")/.."
root="${1:-runs/tta}"; shift || true
queue=("$@")
if [ ${#queue[@]} -eq 0 ]; then
  queue=(airbench:0 airbench_cpu:0 airbench:1 airbench_cpu:1 airbench_cpu:2 vgg:0 resnet:0)
fi
py="${PYTHON:-.venv/bin/python}"
for entry in "${queue[@]}"; do
  name="${entry%%:*}"; seed="${entry##*:}"
  workdir="$root/${name}_s${seed}"
  mkdir -p "$workdir"
  echo "$(date -u +%FT%TZ) start $workdir" >> "$root/queue.log"
  "$py" -m cnnlab.main --config="configs/${name}.py" --workdir="$workdir" \
      --config.seed="$seed" > "$workdir/train.log" 2>&1
  echo "$(date -u +%FT%TZ) end $workdir rc=$?" >> "$root/queue.log"
done
"$py" benchmarks/time_to_accuracy.py --root="$root"
