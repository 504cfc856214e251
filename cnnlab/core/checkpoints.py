"""Orbax checkpoints of a train state: periodic ones plus the best by val accuracy.

Layout inside a workdir:
  checkpoints/<step>/   the latest `max_to_keep` periodic checkpoints (resume from these)
  best/<step>/          the single best checkpoint by validation accuracy

Orbax writes each checkpoint into a temporary directory and renames it when
complete, and deletes an old checkpoint only after a newer one is finalized,
so a crash, kill or Ctrl-C during a save leaves the last good one intact.
"""
import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp

LATEST_DIR = 'checkpoints'
BEST_DIR = 'best'


def abstract_like(tree: Any) -> Any:
  """Shapes, dtypes and shardings of `tree`: the restore target orbax needs."""
  return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, tree)


class Checkpoints:
  """The periodic and the best checkpoint managers of one workdir."""

  def __init__(self, workdir: str, max_to_keep: int = 2):
    workdir = os.path.abspath(workdir)
    self.latest = ocp.CheckpointManager(
        os.path.join(workdir, LATEST_DIR),
        options=self._options(max_to_keep, LATEST_DIR))
    self.best = ocp.CheckpointManager(
        os.path.join(workdir, BEST_DIR), options=self._options(1, BEST_DIR))

  @staticmethod
  def _options(max_to_keep: int, name: str) -> ocp.CheckpointManagerOptions:
    # Orbax's multi-process barriers are named after the step: the two managers
    # saving the same step at once would share (and break) one barrier without
    # a prefix of their own.
    return ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            barrier_sync_key_prefix=name))

  def latest_step(self) -> Optional[int]:
    return self.latest.latest_step()

  def best_step(self) -> Optional[int]:
    return self.best.latest_step()

  def save(self, step: int, state: Any) -> None:
    """Saves asynchronously; call wait() before reading it back or exiting."""
    if self.latest.latest_step() != step:
      self.latest.save(step, args=ocp.args.StandardSave(state))

  def save_best(self, step: int, state: Any) -> None:
    if self.best.latest_step() != step:
      self.best.save(step, args=ocp.args.StandardSave(state))

  def restore(self, template: Any, step: Optional[int] = None, best: bool = False) -> Any:
    """Restores into the structure (and shardings) of `template`."""
    manager = self.best if best else self.latest
    step = manager.latest_step() if step is None else step
    return manager.restore(step, args=ocp.args.StandardRestore(abstract_like(template)))

  def wait(self) -> None:
    self.latest.wait_until_finished()
    self.best.wait_until_finished()

  def close(self) -> None:
    self.wait()
    self.latest.close()
    self.best.close()


def find_step(workdir: str, step: int) -> str:
  """'latest' or 'best': which manager of `workdir` holds `step` (for evaluation)."""
  for sub in (BEST_DIR, LATEST_DIR):
    if os.path.isdir(os.path.join(workdir, sub, str(step))):
      return sub
  raise FileNotFoundError(step)
