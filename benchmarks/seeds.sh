#!/usr/bin/env bash
# Runs seed experiments one after the other (configs/seeds/<name>.py), each in
# <root>/<name>; a finished run is skipped, an interrupted one resumes. Then
# `python benchmarks/seeds.py --root=<root>` writes the side-by-side table.
#   nohup bash benchmarks/seeds.sh runs/seeds seed004_mlp seed004_conv1 ... &
# An entry <name>:<epochs> cuts the run short (--config.num_epochs=<epochs>);
# seeds.py then compares it with the seed's own curve at that epoch.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$1; shift
mkdir -p "$root"
for entry in "$@"; do
  IFS=: read -r name epochs <<< "$entry"
  extra=()
  [ -n "${epochs:-}" ] && extra=(--config.num_epochs="$epochs")
  module=cnnlab.main
  [[ $name == *subtraction* ]] && module=seq2seq.main
  echo "$(date -u +%FT%TZ) start $entry" >> "$root/queue.log"
  .venv/bin/python -m $module --config=configs/seeds/$name.py --workdir="$root/$name" "${extra[@]}" \
      > "$root/$name.log" 2>&1
  echo "$(date -u +%FT%TZ) end $entry rc=$?" >> "$root/queue.log"
done
