"""Guards of a training loop: nothing NaN is ever saved, and Ctrl-C lands between steps.

Both labs' loops use them the same way:

  guard = DivergenceGuard(workdir, start_step, last_good=ckpts.latest_step())
  saves = CheckedSaves(ckpts, guard)
  with interruptible(ckpts, save_current, current_step) as interrupt:
    ... each step: interrupt.raise_if_requested(); guard.add_loss(metrics['loss'])
    ... each save: saves.save(step, state) (checks the state first)
"""
import contextlib
import logging
import signal
import threading
from typing import Any, Callable, Iterator, List, Optional

import jax
import jax.numpy as jnp
import numpy as np

from cnnlab.core import parallel
from cnnlab.core.errors import UserError

FIX_HINT = ('Lower --config.optimizer.lr or set --config.optimizer.grad_clip_norm=1.0, then '
            'rerun (the same --workdir resumes from the last good checkpoint).')


class TrainingDiverged(UserError):
  """The loss, the weights or the optimizer state became NaN or infinite."""


@jax.jit
def tree_is_finite(tree: Any) -> jax.Array:
  """Whether every float in `tree` is finite: one fused reduction on the device.

  Far cheaper than the save it guards, which copies the same arrays to the host.
  """
  leaves = [x for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else (
      jnp.bool_(True))


class DivergenceGuard:
  """Raises TrainingDiverged, naming the steps and the last good checkpoint.

  The loop hands it every step's loss (a device scalar: no host sync) with
  `add_loss`; `check_losses` fetches those not yet checked. Before a save,
  `check_state` also checks the state itself: the update after the last finite
  loss can already overflow. So a NaN state is never saved, whatever the
  logging interval, and a rerun resumes from the last good checkpoint.
  """

  def __init__(self, workdir: str, start_step: int, last_good: Optional[int]):
    self.workdir = workdir
    self.checked_step = start_step  # every loss up to this step was finite
    self.finite_step = start_step  # the state at this step was finite (or restored)
    self.last_good = last_good  # the latest periodic checkpoint known finite
    self._losses: List[Any] = []

  def add_loss(self, loss: Any) -> None:
    """The loss of the next step (any array whose every value must be finite)."""
    self._losses.append(loss)

  def diverged(self, problem: str, first: int, last: int) -> TrainingDiverged:
    where = (f'The last good checkpoint is step {self.last_good} in {self.workdir}/checkpoints'
             if self.last_good is not None else 'No checkpoint was saved before it')
    return TrainingDiverged(f'{problem} between steps {first} and {last}. {where}. {FIX_HINT}')

  def check_losses(self, step: int) -> None:
    """Raises unless every loss added since the last check (up to `step`) is finite."""
    if not self._losses:
      return
    values = np.asarray(jax.device_get(self._losses), np.float64).reshape(len(self._losses), -1)
    self._losses = []
    finite = np.isfinite(values).all(axis=1)  # per step
    if not finite.all():
      first = int(np.argmin(finite))  # the first step whose loss was not finite
      bad = values[first][~np.isfinite(values[first])][0]
      raise self.diverged(f'loss became {bad} at step {step - len(values) + first + 1}',
                          self.checked_step + 1, step)
    self.checked_step = step

  def check_state(self, step: int, state: Any) -> None:
    """check_losses, then every float of `state`."""
    self.check_losses(step)
    if step > self.finite_step:
      if not bool(parallel.fetch(tree_is_finite(state))):
        raise self.diverged('the weights or optimizer state became NaN/inf (the loss was still '
                            'finite)', self.finite_step + 1, step)
      self.finite_step = step

  def saved(self, step: int) -> None:
    """A periodic checkpoint of `step` (checked) was written."""
    self.last_good = step


class DeferredInterrupt:
  """Ctrl-C inside a training loop takes effect at the next step boundary.

  A jitted step donates its input state's buffers: a KeyboardInterrupt raised
  while a step is being dispatched would leave no valid state to save. Between
  `start()` and `stop()` the first SIGINT only sets a flag that
  `raise_if_requested()` (called where the state is whole) turns into a
  KeyboardInterrupt; a second SIGINT interrupts at once, as usual. Outside the
  main thread (signals cannot be handled there) it does nothing.
  """

  def __init__(self):
    self.requested = False
    self._previous = None

  def start(self) -> 'DeferredInterrupt':
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGINT, self._on_sigint)
    return self

  def _on_sigint(self, signum, frame):  # pylint: disable=unused-argument
    self.requested = True
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: now

  def raise_if_requested(self) -> None:
    if self.requested:
      self.requested = False
      raise KeyboardInterrupt

  def stop(self) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
      self._previous = None


class CheckedSaves:
  """A run's saves through its guard: the state is checked first, so nothing NaN is
  written, and the guard learns each periodic save as the last good checkpoint."""

  def __init__(self, ckpts: Any, guard: DivergenceGuard):
    self.ckpts, self.guard = ckpts, guard  # ckpts: a cnnlab.core.checkpoints.Checkpoints

  def save(self, step: int, state: Any) -> None:
    self.guard.check_state(step, state)
    self.ckpts.save(step, state)
    self.guard.saved(step)

  def save_best(self, step: int, state: Any) -> None:
    self.guard.check_state(step, state)
    self.ckpts.save_best(step, state)


@contextlib.contextmanager
def interruptible(ckpts: Any, save_current: Callable[[], None], current_step: Callable[[], int],
                  say: Callable[[str], None] = logging.warning) -> Iterator[DeferredInterrupt]:
  """The body of a training loop, yielding its DeferredInterrupt.

  On Ctrl-C (at a step boundary) `save_current` saves the current step
  (refused, and said, when its state is not finite) before KeyboardInterrupt
  goes on; on a divergence the pending save of the last good checkpoint
  finishes first. Either way the checkpoints are closed and the error re-raised.
  """
  interrupt = DeferredInterrupt().start()
  try:
    yield interrupt
  except KeyboardInterrupt:
    step = current_step()
    say(f'Interrupted: saving a checkpoint at step {step}, then exiting; rerun with the same '
        '--workdir to resume.')
    try:
      save_current()
    except TrainingDiverged as e:
      say(f'Not saving step {step}: {e}')
    ckpts.close()
    raise
  except TrainingDiverged:
    ckpts.close()  # let a pending asynchronous save of the last good checkpoint finish
    raise
  finally:
    interrupt.stop()
