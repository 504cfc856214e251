"""cnnlab.core.guards: the divergence guard and the deferred Ctrl-C."""
import os
import signal
import time

import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab.core import guards


def test_finite_losses_pass_and_a_nan_among_unchecked_ones_is_caught():
  guard = guards.DivergenceGuard('/runs/x', start_step=10, last_good=8)
  for loss in (1.0, 0.9):
    guard.add_loss(jnp.float32(loss))
  guard.check_losses(12)
  assert guard.checked_step == 12
  # A NaN two steps before the check (not the last loss) still stops the run.
  for loss in (0.8, np.nan, 0.7):
    guard.add_loss(jnp.float32(loss))
  with pytest.raises(guards.TrainingDiverged) as e:
    guard.check_losses(15)
  message = str(e.value)
  assert 'between steps 13 and 15' in message
  assert 'loss became nan at step 14' in message  # the NaN itself, not the last (finite) loss
  assert 'last good checkpoint is step 8 in /runs/x/checkpoints' in message
  assert '--config.optimizer.lr' in message and 'grad_clip_norm' in message


def test_check_state_catches_a_nan_state_after_finite_losses():
  guard = guards.DivergenceGuard('/runs/x', start_step=0, last_good=None)
  state = {'params': {'w': jnp.ones(3)}, 'opt': (jnp.zeros(2), jnp.int32(4))}
  guard.add_loss(jnp.float32(0.5))
  guard.check_state(1, state)
  assert guard.finite_step == 1
  guard.saved(1)
  bad = {'params': {'w': jnp.array([1.0, jnp.inf, 0.0])}, 'opt': state['opt']}
  guard.add_loss(jnp.float32(0.4))
  with pytest.raises(guards.TrainingDiverged, match='weights or optimizer state became NaN/inf'
                     r'.*between steps 2 and 2\. The last good checkpoint is step 1'):
    guard.check_state(2, bad)


def test_no_checkpoint_yet_is_said():
  guard = guards.DivergenceGuard('/w', start_step=0, last_good=None)
  guard.add_loss(jnp.float32(np.inf))
  with pytest.raises(guards.TrainingDiverged, match='No checkpoint was saved before it'):
    guard.check_losses(1)


def test_tree_is_finite_ignores_integers_and_sees_every_float():
  assert bool(guards.tree_is_finite({'a': jnp.ones(2), 'n': jnp.int32(3)}))
  assert not bool(guards.tree_is_finite({'a': jnp.ones(2), 'b': (jnp.array([0.0, jnp.nan]),)}))
  assert bool(guards.tree_is_finite({'n': jnp.int32(3)}))


def test_deferred_interrupt_waits_for_the_step_boundary():
  before = signal.getsignal(signal.SIGINT)
  interrupt = guards.DeferredInterrupt().start()
  assert signal.getsignal(signal.SIGINT) == interrupt._on_sigint  # pylint: disable=protected-access
  try:
    os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C only sets the flag
    time.sleep(0.05)
    assert interrupt.requested
    with pytest.raises(KeyboardInterrupt):
      interrupt.raise_if_requested()
    interrupt.raise_if_requested()  # consumed
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.05)
  finally:
    interrupt.stop()
  assert signal.getsignal(signal.SIGINT) == before  # restored
