"""Where a training step's batch comes from: the device-resident split or the host.

Both sources take the same inputs (the step's global example indices into the
training split) and run the same cnnlab.steps.train_step on the same rows, so
a run gives the same numbers on either path (tests/test_batches.py):

  DeviceBatches  the whole split is copied to the devices once (replicated);
                 the jitted step gathers its rows there by index (airbench's
                 way: no per-step host-to-device copy). One process only.
  HostBatches    every process slices its rows of the batch on the host and
                 hands them to the step as one global array (multi-host).
"""
import functools
import time
from typing import Any, Callable, Dict, Tuple

import jax
import numpy as np

from cnnlab import input_pipeline
from cnnlab import steps
from cnnlab.core import parallel

StepFn = Callable[[Any, np.ndarray, jax.Array], Tuple[Any, Dict[str, jax.Array]]]


class DeviceBatches:
  """The split on the devices; a step gathers `indices` there."""

  def __init__(self, train_ds: input_pipeline.Dataset, mesh, **step_kwargs):
    self.mesh = mesh
    self.data = parallel.replicate({'image': train_ds.images, 'label': train_ds.labels}, mesh)
    self._step = jax.jit(functools.partial(steps.gather_train_step, **step_kwargs),
                         donate_argnums=0)

  def step(self, state, indices: np.ndarray, rng: jax.Array):
    """(state, metrics) after training on the examples `indices` (the global batch)."""
    sharded = parallel.global_batch({'i': indices.astype(np.int32)}, self.mesh)['i']
    return self._step(state, self.data, sharded, rng)

  def precompile(self, state, batch_size: int, rng: jax.Array) -> float:
    """Compiles the step for `state` and `batch_size` now; returns the seconds it took.

    Later steps call the compiled executable, so a timed loop measures only
    training (airbench reports compile time apart from its runs). Every
    later batch must have `batch_size` rows.
    """
    start = time.perf_counter()
    index = parallel.global_batch({'i': np.zeros(batch_size, np.int32)}, self.mesh)['i']
    self._step = self._step.lower(state, self.data, index, rng).compile()
    return time.perf_counter() - start


class HostBatches:
  """The split in host memory; each process feeds its rows of every batch."""

  def __init__(self, train_ds: input_pipeline.Dataset, mesh, batch_size: int, **step_kwargs):
    self.mesh = mesh
    self.images, self.labels = train_ds.images, train_ds.labels
    self.rows = parallel.process_rows(batch_size, mesh)
    self._step = jax.jit(functools.partial(steps.train_step, **step_kwargs), donate_argnums=0)

  def step(self, state, indices: np.ndarray, rng: jax.Array):
    """(state, metrics) after training on the examples `indices` (the global batch)."""
    local = indices[self.rows[0]:self.rows[1]]
    batch = {'image': self.images[local], 'label': self.labels[local],
             'id': local.astype(np.int32)}  # global indices into the training split
    return self._step(state, parallel.global_batch(batch, self.mesh), rng)


def create(train_ds: input_pipeline.Dataset, mesh, batch_size: int, on_device: bool,
           **step_kwargs):
  """DeviceBatches when asked for and this is one process, else HostBatches."""
  if on_device and jax.process_count() == 1:
    return DeviceBatches(train_ds, mesh, **step_kwargs)
  return HostBatches(train_ds, mesh, batch_size, **step_kwargs)
