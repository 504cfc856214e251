#!/usr/bin/env bash
# Runs N copies of a command as one JAX cluster on this machine (CPU, gloo
# collectives): multi-host development and tests without a cluster.
#
# Usage: launch/local_multiprocess.sh N [--devices-per-process=D] [--port=P] COMMAND...
#   launch/local_multiprocess.sh 2 python -m cnnlab.main --config=configs/vgg.py \
#       --workdir=runs/mh --config.num_epochs=1
#
# Each process gets JAX_COORDINATOR_ADDRESS=127.0.0.1:P, JAX_NUM_PROCESSES=N,
# JAX_PROCESS_ID=i (cnnlab.core.parallel.initialize_distributed reads them), JAX_PLATFORMS=cpu
# and, with D > 1, D fake CPU devices. Process 0 prints to this terminal; the
# others write to $LOCAL_MP_LOGDIR/process_<i>.log (default: a temporary dir,
# printed on failure). Exits with the first non-zero status; if any process
# fails or this script is interrupted, all the others are killed.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 2 && "$1" =~ ^[0-9]+$ && "$1" -ge 1 ]] || usage
num=$1; shift
devices=1
port=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --devices-per-process=*) devices=${1#*=}; shift ;;
    --port=*) port=${1#*=}; shift ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || usage
if [[ -z "$port" ]]; then
  # A free port from the kernel (closed again at once; a race is unlikely).
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
logdir=${LOCAL_MP_LOGDIR:-$(mktemp -d -t local_mp.XXXXXX)}
mkdir -p "$logdir"

export JAX_COORDINATOR_ADDRESS=127.0.0.1:$port JAX_NUM_PROCESSES=$num JAX_PLATFORMS=cpu
if [[ "$devices" -gt 1 ]]; then
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=$devices"
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}
trap 'cleanup; exit 130' INT TERM
for ((i = 0; i < num; i++)); do
  if [[ $i -eq 0 ]]; then
    JAX_PROCESS_ID=$i "$@" &
  else
    JAX_PROCESS_ID=$i "$@" >"$logdir/process_$i.log" 2>&1 &
  fi
  pids+=($!)
done

status=0
# `wait -n` returns as soon as any process exits: a crash stops the others
# instead of leaving them blocked in a collective until the coordinator times out.
for ((i = 0; i < num; i++)); do
  rc=0
  wait -n || rc=$?
  if [[ $rc -ne 0 ]]; then
    status=$rc
    echo "local_multiprocess: a process failed; stopping the others (logs: $logdir)" >&2
    cleanup
    break
  fi
done
if [[ $status -ne 0 ]]; then
  for ((i = 1; i < num; i++)); do
    echo "---- process $i (last lines of $logdir/process_$i.log) ----" >&2
    tail -n 20 "$logdir/process_$i.log" >&2 || true
  done
fi
exit $status
