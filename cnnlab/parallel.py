"""Devices, hosts and shardings: the only module that knows about them.

Data parallelism is `jax.jit` over a 1-D `Mesh` of every device of every
process: batches are sharded along 'data', parameters replicated. Each process
feeds only its own slice of every global batch
(`jax.make_array_from_process_local_data`), so one code path serves a laptop,
one accelerator and a multi-host cluster.
"""
import logging
import os
from typing import Any, Dict, Tuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from cnnlab.errors import UserError

DATA_AXIS = 'data'

# Environment variables that mean "launched as one task of a multi-host job".
_CLUSTER_ENV = ('SLURM_NTASKS', 'TPU_WORKER_HOSTNAMES', 'JAX_COORDINATOR_ADDRESS')


def should_initialize_distributed(flag: bool) -> bool:
  if flag:
    return True
  if os.environ.get('SLURM_NTASKS', '1') not in ('', '1'):
    return True
  return bool(os.environ.get('JAX_COORDINATOR_ADDRESS') or
              os.environ.get('TPU_WORKER_HOSTNAMES', '').count(',') > 0)


def initialize_distributed(flag: bool = False) -> None:
  """`jax.distributed.initialize()` when asked or when a cluster launched us.

  JAX reads the coordinator, process count and id from SLURM / TPU VM
  environments itself; for a hand-made cluster set JAX_COORDINATOR_ADDRESS,
  JAX_NUM_PROCESSES and JAX_PROCESS_ID (launch/local_multiprocess.sh does).
  """
  if not should_initialize_distributed(flag):
    return
  kwargs = {}
  if os.environ.get('JAX_COORDINATOR_ADDRESS'):
    kwargs = dict(coordinator_address=os.environ['JAX_COORDINATOR_ADDRESS'],
                  num_processes=int(os.environ['JAX_NUM_PROCESSES']),
                  process_id=int(os.environ['JAX_PROCESS_ID']))
  jax.distributed.initialize(**kwargs)
  logging.info('jax.distributed: process %d of %d, %d local / %d global devices',
               jax.process_index(), jax.process_count(), jax.local_device_count(),
               jax.device_count())


def is_main_process() -> bool:
  return jax.process_index() == 0


def create_mesh() -> Mesh:
  # Auto axes (not jax.make_mesh's Explicit ones): jit reshards inputs implicitly.
  return Mesh(np.array(jax.devices()), (DATA_AXIS,))


def data_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh, name: str = 'batch_size') -> None:
  n = mesh.devices.size
  if batch_size % n:
    lower, upper = (batch_size // n) * n, (batch_size // n + 1) * n
    suggestion = f'{lower} or {upper}' if lower else f'{upper}'
    raise UserError(
        f'{name}={batch_size} is not divisible by the {n} devices '
        f'({jax.process_count()} process(es)): pass --config.{name}={suggestion}')


def process_rows(global_batch_size: int) -> Tuple[int, int]:
  """[start, stop) of the rows of each global batch this process feeds."""
  per_process = global_batch_size // jax.process_count()
  start = jax.process_index() * per_process
  return start, start + per_process


def global_batch(local: Dict[str, np.ndarray], mesh: Mesh) -> Dict[str, jax.Array]:
  """This process's rows -> global arrays sharded along the batch axis."""
  sharding = data_sharding(mesh)
  return jax.tree_util.tree_map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), local)


def replicate(tree: Any, mesh: Mesh) -> Any:
  return jax.device_put(tree, replicated(mesh))


def fetch(tree: Any) -> Any:
  """Device arrays (replicated or fully addressable) -> numpy on every host."""
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  if jax.process_count() > 1:
    tree = multihost_utils.process_allgather(tree, tiled=True)
  return jax.tree_util.tree_map(np.asarray, tree)
