#!/usr/bin/env bash
# Runs seed experiments one after the other (configs/seeds/<name>.py), each in
# <root>/<name>; a finished run is skipped, an interrupted one resumes. Then
# `python benchmarks/seeds.py --root=<root>` writes the side-by-side table.
#   nohup bash benchmarks/seeds.sh runs/seeds seed004_mlp seed004_conv1 ... &
set -uo pipefail
cd "$(dirname "$0")/.."
root=$1; shift
mkdir -p "$root"
for name in "$@"; do
  module=cnnlab.main
  [[ $name == *subtraction* ]] && module=seq2seq.main
  echo "$(date -u +%FT%TZ) start $name" >> "$root/queue.log"
  .venv/bin/python -m $module --config=configs/seeds/$name.py --workdir="$root/$name" \
      > "$root/$name.log" 2>&1
  echo "$(date -u +%FT%TZ) end $name rc=$?" >> "$root/queue.log"
done
