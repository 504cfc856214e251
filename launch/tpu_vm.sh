#!/usr/bin/env bash
# cnnlab on a multi-host Cloud TPU VM slice: the same command on every worker.
#
# Usage: launch/tpu_vm.sh TPU_NAME ZONE [--project=P] [--setup] -- [cnnlab.main flags...]
#   launch/tpu_vm.sh my-v4-32 us-central2-b -- --config=configs/resnet.py \
#       --workdir=/mnt/shared/runs/resnet20
#   launch/tpu_vm.sh my-v4-32 us-central2-b --setup -- --config=configs/vgg.py ...
#
# Runs `python -m cnnlab.main --multihost FLAGS` on all workers through
# `gcloud compute tpus tpu-vm ssh --worker=all`; JAX finds the coordinator,
# process count and id from the TPU metadata. --setup first copies this checkout
# to ~/cnnlab on every worker (scp --worker=all) and pip-installs it with
# jax[tpu]. --workdir must be a directory all workers share (NFS, Filestore or a
# gcsfuse mount); only worker 0 logs at INFO. Environment: CNNLAB_MODULE
# (default cnnlab.main, or seq2seq.main), CNNLAB_REMOTE_DIR (default ~/cnnlab).
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 2 ]] || usage
tpu=$1 zone=$2; shift 2
project_arg=() setup=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --project=*) project_arg=("$1"); shift ;;
    --setup) setup=1; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
module_name=${CNNLAB_MODULE:-cnnlab.main}
remote_dir=${CNNLAB_REMOTE_DIR:-cnnlab}
ssh_all=(gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone" "${project_arg[@]}" --worker=all)

if [[ $setup -eq 1 ]]; then
  repo=$(cd "$(dirname "$0")/.." && pwd)
  archive=$(mktemp -t cnnlab.XXXXXX.tar.gz)
  git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -czf "$archive"
  gcloud compute tpus tpu-vm scp "$archive" "$tpu":cnnlab.tar.gz --zone="$zone" \
    "${project_arg[@]}" --worker=all
  rm -f "$archive"
  "${ssh_all[@]}" --command="mkdir -p $remote_dir && tar -xzf cnnlab.tar.gz -C $remote_dir \
    && cd $remote_dir && python3 -m pip install -q -e . 'jax[tpu]'"
fi

# Quote every flag for the remote shell.
quoted=$(printf ' %q' "$@")
"${ssh_all[@]}" --command="cd $remote_dir && python3 -m $module_name --multihost$quoted"
