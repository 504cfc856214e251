"""Every schedule, jitted, against its paper's closed formula at chosen steps."""
import math

import jax
import numpy as np
import pytest

from cnnlab import schedules
from cnnlab.core.errors import UserError
from configs import base

SPE = 10  # steps per epoch
TOTAL = 200  # steps in the run


def config_with(name, lr=0.1, **schedule):
  config = base.get_config()
  config.optimizer.lr = lr
  config.schedule.name = name
  for key, value in schedule.items():
    config.schedule[key] = value
  return config


def values(config, steps, spe=SPE, total=TOTAL):
  schedule = jax.jit(schedules.create_schedule(config, spe, total))
  return np.array([float(schedule(s)) for s in steps])


def assert_close(actual, expected):
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-8)


def test_constant():
  assert_close(values(config_with('constant'), [0, 7, 199]), [0.1] * 3)


def test_piecewise():
  config = config_with('piecewise', boundaries_epochs='5, 12', decay_rate=0.5)
  # Boundaries at steps 50 and 120: lr * 0.5**(number passed).
  assert_close(values(config, [0, 49, 50, 119, 120, 199]),
               [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_piecewise_needs_boundaries():
  with pytest.raises(UserError, match='boundaries_epochs'):
    values(config_with('piecewise'), [0])


def test_step_decay():
  config = config_with('step', decay_epochs=3.0, decay_rate=0.5)
  steps = [0, 29, 30, 59, 60, 95]
  assert_close(values(config, steps), [0.1 * 0.5 ** (s // 30) for s in steps])


def test_exponential():
  config = config_with('exponential', decay_epochs=4.0, decay_rate=0.1)
  steps = [0, 1, 20, 40, 73]
  assert_close(values(config, steps), [0.1 * 0.1 ** (s / 40) for s in steps])


def test_time_based_is_keras_legacy_decay():
  # Seed 002: SGD(lr=0.01, decay=lr/epochs); Keras: lr / (1 + decay * iterations).
  decay = 0.01 / 25
  config = config_with('time_based', lr=0.01, time_decay=decay)
  steps = [0, 1, 100, 1000]
  assert_close(values(config, steps), [0.01 / (1 + decay * s) for s in steps])


def test_cosine():
  config = config_with('cosine', min_lr=0.001)
  steps = [0, 50, 100, 150, 200]
  expected = [0.001 + 0.5 * (0.1 - 0.001) * (1 + math.cos(math.pi * s / TOTAL)) for s in steps]
  assert_close(values(config, steps), expected)


def test_warmup_cosine():
  config = config_with('warmup_cosine', warmup_epochs=2.0)  # 20 steps
  steps = [0, 10, 20, 110, 200]
  expected = [0.0, 0.05, 0.1, 0.05, 0.0]  # ramp, peak, cosine midpoint, end
  assert_close(values(config, steps), expected)


def test_warmup_prepends_to_any_schedule():
  config = config_with('step', warmup_epochs=1.0, decay_epochs=3.0, decay_rate=0.5)
  # 10 warm-up steps, then the step schedule shifted by them.
  assert_close(values(config, [0, 5, 10, 39, 40]), [0.0, 0.05, 0.1, 0.1, 0.05])


def test_one_cycle():
  config = config_with('one_cycle', pct_start=0.25, div_factor=25.0, final_div_factor=1e4)
  start, peak = 0.1 / 25, 0.1
  end = start / 1e4
  up = lambda s: peak + 0.5 * (start - peak) * (1 + math.cos(math.pi * s / 50))
  down = lambda s: end + 0.5 * (peak - end) * (1 + math.cos(math.pi * (s - 50) / 150))
  steps = [0, 25, 50, 125, 200]
  assert_close(values(config, steps), [up(0), up(25), peak, down(125), end])


def bckenstler(t, base_lr, max_lr, step_size, mode, gamma=1.0):
  """bckenstler/CLR clr_callback.py, transcribed."""
  cycle = np.floor(1 + t / (2 * step_size))
  x = np.abs(t / step_size - 2 * cycle + 1)
  scale = {'triangular': 1.0, 'triangular2': 1 / (2.0 ** (cycle - 1)),
           'exp_range': gamma ** t}[mode]
  return base_lr + (max_lr - base_lr) * np.maximum(0, 1 - x) * scale


@pytest.mark.parametrize('mode', schedules.CLR_MODES)
def test_cyclic_matches_bckenstler(mode):
  config = config_with(mode, lr=0.006, min_lr=0.001, step_size_epochs=2.0, gamma=0.99)
  steps = [0, 5, 10, 20, 25, 30, 40, 55, 60, 199]
  expected = [bckenstler(s, 0.001, 0.006, 20, mode, 0.99) for s in steps]
  assert_close(values(config, steps), expected)


def test_cyclic_known_points():
  config = config_with('triangular2', lr=0.006, min_lr=0.001, step_size_steps=20)
  # Cycle 1 peaks at 0.006, cycle 2 at base + half the amplitude, both end at base.
  assert_close(values(config, [0, 20, 40, 60, 80]), [0.001, 0.006, 0.001, 0.0035, 0.001])


def test_sgdr_restarts_exactly_at_cycle_boundaries():
  # T_0 = 2 epochs = 20 steps, T_mult = 2: cycles [0,20), [20,60), [60,140), [140,300).
  config = config_with('sgdr', lr=0.1, min_lr=0.01, t0_epochs=2.0, t_mult=2.0)
  eta = lambda t_cur, t_i: 0.01 + 0.5 * (0.1 - 0.01) * (1 + math.cos(math.pi * t_cur / t_i))
  cases = {0: eta(0, 20), 10: eta(10, 20), 19: eta(19, 20), 20: 0.1, 40: eta(20, 40),
           59: eta(39, 40), 60: 0.1, 100: eta(40, 80), 139: eta(79, 80), 140: 0.1,
           199: eta(59, 160)}
  assert_close(values(config, list(cases)), list(cases.values()))
  assert schedules.sgdr_cycle_starts(20, 2.0, 200)[:5] == [0, 20, 60, 140, 300]


def test_sgdr_t_mult_one():
  config = config_with('sgdr', lr=0.1, min_lr=0.0, t0_epochs=3.0, t_mult=1.0)
  assert_close(values(config, [0, 15, 30, 45, 60]), [0.1, 0.05, 0.1, 0.05, 0.1])


def test_reduce_on_plateau_base_is_constant():
  assert_close(values(config_with('reduce_on_plateau'), [0, 150]), [0.1, 0.1])


def test_unknown_name_lists_known():
  with pytest.raises(UserError, match='Known schedules: .*sgdr'):
    values(config_with('sgdrr'), [0])


def test_all_registered_are_tested():
  tested = {'constant', 'piecewise', 'step', 'exponential', 'time_based', 'cosine',
            'warmup_cosine', 'one_cycle', 'sgdr', 'reduce_on_plateau', *schedules.CLR_MODES,
            'triangle'}  # triangle: tests/test_airbench.py
  assert set(schedules.SCHEDULES.names()) == tested
