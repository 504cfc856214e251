"""Devices, hosts and shardings: the only module that knows about them.

Data parallelism is `jax.jit` over a 1-D `Mesh` of every device of every
process: batches are sharded along 'data', parameters replicated. Each process
feeds only its own slice of every global batch
(`jax.make_array_from_process_local_data`), so one code path serves a laptop,
one accelerator and a multi-host cluster.
"""
import logging
import os
from typing import Any, Dict, Optional, Tuple

from absl import logging as absl_logging
import jax
from jax.experimental import multihost_utils
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from cnnlab.core.errors import UserError

DATA_AXIS = 'data'

# What the variables of a hand-made cluster (launch/local_multiprocess.sh) are called.
COORDINATOR_ENV = 'JAX_COORDINATOR_ADDRESS'
NUM_PROCESSES_ENV = 'JAX_NUM_PROCESSES'
PROCESS_ID_ENV = 'JAX_PROCESS_ID'


def _int_env(name: str, default: int = 0) -> int:
  try:
    return int(os.environ.get(name, '') or default)
  except ValueError:
    return default


def should_initialize_distributed(flag: bool) -> bool:
  """True when asked (--multihost) or when a multi-process launcher started us.

  SLURM: `srun` sets SLURM_STEP_NUM_TASKS for the tasks of a step; the batch
  script itself has none, so running `python -m cnnlab.main` directly inside an
  allocation stays single-process instead of waiting for peers that never come.
  TPU VM: TPU_WORKER_HOSTNAMES lists more than one worker on a multi-host slice.
  """
  if flag:
    return True
  if _int_env('SLURM_STEP_NUM_TASKS', 1) > 1:
    return True
  if os.environ.get(COORDINATOR_ENV):
    return True
  return os.environ.get('TPU_WORKER_HOSTNAMES', '').count(',') > 0


def initialize_distributed(flag: bool = False) -> None:
  """`jax.distributed.initialize()` when asked or when a cluster launched us.

  Call it first thing, before any JAX computation. JAX reads the coordinator,
  process count and id from SLURM and TPU VM environments itself; for a
  hand-made cluster set JAX_COORDINATOR_ADDRESS (host:port of process 0),
  JAX_NUM_PROCESSES and JAX_PROCESS_ID (launch/local_multiprocess.sh does). CPU
  processes talk over gloo (JAX's default CPU collectives).

  Args:
    flag: the --multihost flag; True forces initialization.

  Raises:
    UserError: JAX_COORDINATOR_ADDRESS is set without the other two variables.
  """
  if not should_initialize_distributed(flag) or jax.distributed.is_initialized():
    return
  kwargs = {}
  if os.environ.get(COORDINATOR_ENV):
    missing = [v for v in (NUM_PROCESSES_ENV, PROCESS_ID_ENV) if not os.environ.get(v)]
    if missing:
      raise UserError(f'{COORDINATOR_ENV} is set but {" and ".join(missing)} not: set all '
                      'three, or launch with launch/local_multiprocess.sh N ...')
    kwargs = dict(coordinator_address=os.environ[COORDINATOR_ENV],
                  num_processes=_int_env(NUM_PROCESSES_ENV),
                  process_id=_int_env(PROCESS_ID_ENV))
  try:
    jax.distributed.initialize(**kwargs)
  except (RuntimeError, ValueError) as e:
    raise UserError(
        f'jax.distributed.initialize() failed ({e}). Outside SLURM / TPU VMs set '
        f'{COORDINATOR_ENV}, {NUM_PROCESSES_ENV} and {PROCESS_ID_ENV}, or drop '
        '--multihost for a single-process run.') from e
  logging.info('jax.distributed: process %d of %d, %d local / %d global devices',
               jax.process_index(), jax.process_count(), jax.local_device_count(),
               jax.device_count())


def quiet_other_processes() -> None:
  """Only process 0 logs at INFO: N copies of every line help nobody.

  Warnings and errors still come from every process (a crash on process 3 must
  say so). Call after logging is configured.
  """
  if jax.process_index() != 0:
    logging.getLogger().setLevel(logging.WARNING)
    absl_logging.set_verbosity(absl_logging.WARNING)


def join_cluster(multihost: bool = False) -> None:
  """What a training command does first: initialize_distributed, then quiet_other_processes.

  Call it inside cli.run_main (a bad cluster setup is then a one-line error,
  and logging is configured), before any JAX computation.

  Args:
    multihost: the --multihost flag (cli.define_multihost).
  """
  initialize_distributed(multihost)
  quiet_other_processes()


def is_main_process() -> bool:
  return jax.process_index() == 0


def create_mesh() -> Mesh:
  """A 1-D 'data' mesh of every device of every process.

  Devices are grouped by process, so each process owns one contiguous block of
  rows of every global batch (`process_rows`): the data order and the result
  are the same for any number of processes. Auto axes (not jax.make_mesh's
  Explicit ones): jit reshards inputs implicitly.
  """
  devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
  return Mesh(np.array(devices), (DATA_AXIS,))


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


def process_rows(global_batch_size: int, mesh: Optional[Mesh] = None) -> Tuple[int, int]:
  """[start, stop) of the rows of each global batch this process feeds.

  The rows of the devices this process owns in `mesh` (create_mesh() if None);
  only these rows are ever read from disk or copied to devices here.
  """
  mesh = create_mesh() if mesh is None else mesh
  flat = list(mesh.devices.flat)
  mine = [i for i, d in enumerate(flat) if d.process_index == jax.process_index()]
  if mine != list(range(mine[0], mine[-1] + 1)):
    raise ValueError('the devices of this process are not contiguous in the mesh: '
                     'build it with parallel.create_mesh()')
  per_device = global_batch_size // len(flat)
  return mine[0] * per_device, (mine[-1] + 1) * per_device


def global_batch(local: Dict[str, np.ndarray], mesh: Mesh) -> Dict[str, jax.Array]:
  """This process's rows -> global arrays sharded along the batch axis."""
  sharding = data_sharding(mesh)
  return jax.tree_util.tree_map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), local)


def replicate(tree: Any, mesh: Mesh) -> Any:
  return jax.device_put(tree, replicated(mesh))


def fetch(tree: Any) -> Any:
  """Device arrays (replicated or fully addressable) -> numpy on every host."""
  if jax.process_count() > 1:
    tree = multihost_utils.process_allgather(tree, tiled=True)
  return jax.tree_util.tree_map(np.asarray, tree)
