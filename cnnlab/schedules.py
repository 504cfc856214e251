"""Learning-rate schedules, each registered by name in SCHEDULES.

A schedule is a pure, jittable `step -> lr` function (an `optax.Schedule`);
`step` counts optimizer updates from 0, so every schedule is per step, and a
length given in epochs is converted with the run's steps per epoch.

Two layers:
  * formula functions (`time_based`, `cyclic`, `sgdr`, ...) take the paper's
    own arguments, in steps; tests compare them with the closed formula;
  * builders registered in SCHEDULES map `config.schedule.*` to those
    arguments: `create_schedule(config, steps_per_epoch, num_train_steps)`.

`config.optimizer.lr` is always the top of the schedule (the peak, SGDR's
eta_max, CLR's max_lr) and `config.schedule.min_lr` its floor (cosine's end
value, SGDR's eta_min, CLR's base_lr). optax supplies constant, piecewise,
exponential, cosine, warmup + cosine and one-cycle; what it lacks (Keras'
time-based decay, Smith's cyclical LR, SGDR restarts) is written here.
Reduce-on-plateau is not a function of the step: `reduce_on_plateau` is a
constant schedule that cnnlab.optimizers scales after each validation.

Preview a schedule before training with cnnlab.schedule_preview.
"""
import math
from typing import List, Tuple

import jax.numpy as jnp
import ml_collections
import optax

from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

SCHEDULES = Registry('schedule', 'schedule.name')

# Schedules that shape their own start, so the generic warm-up is not prepended.
OWN_WARMUP = ('warmup_cosine',)
CLR_MODES = ('triangular', 'triangular2', 'exp_range')


# ---- formulas (arguments in steps) -------------------------------------------------

def time_based(init_value: float, decay: float) -> optax.Schedule:
  """Keras' legacy `decay` argument: lr / (1 + decay * iterations).

  `iterations` is the number of updates already applied (0 for the first
  step), as Keras' `optimizer.iterations`.
  """
  return lambda step: init_value / (1.0 + decay * jnp.asarray(step, jnp.float32))


def cyclic(base_lr: float, max_lr: float, step_size: float, mode: str = 'triangular',
           gamma: float = 1.0) -> optax.Schedule:
  """Cyclical learning rate (Smith 2017), as bckenstler's Keras `CyclicLR`.

    cycle = floor(1 + t / (2 * step_size))
    x = |t / step_size - 2 * cycle + 1|
    lr = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale
  with scale = 1 (triangular), 1 / 2**(cycle - 1) (triangular2) or gamma**t
  (exp_range). A cycle is 2 * step_size steps, starting and ending at base_lr.

  Args:
    base_lr: lowest lr, at the start and end of each cycle.
    max_lr: highest lr (reached at t = step_size in the first cycle).
    step_size: steps in half a cycle (bckenstler: 2-8 epochs' worth).
    mode: 'triangular', 'triangular2' or 'exp_range'.
    gamma: exp_range's per-step decay of the amplitude.
  """
  if mode not in CLR_MODES:
    raise UserError(f'CLR mode {mode!r} is unknown; use one of {", ".join(CLR_MODES)}')
  if step_size <= 0:
    raise UserError(f'CLR step_size must be positive (got {step_size})')

  def schedule(step):
    t = jnp.asarray(step, jnp.float32)
    cycle = jnp.floor(1.0 + t / (2.0 * step_size))
    x = jnp.abs(t / step_size - 2.0 * cycle + 1.0)
    if mode == 'triangular':
      scale = 1.0
    elif mode == 'triangular2':
      scale = 1.0 / 2.0 ** (cycle - 1.0)
    else:
      scale = jnp.asarray(gamma, jnp.float32) ** t
    return base_lr + (max_lr - base_lr) * jnp.maximum(0.0, 1.0 - x) * scale

  return schedule


def sgdr_cycle_starts(t_0: int, t_mult: float, num_steps: int) -> List[int]:
  """First step of each SGDR cycle covering [0, num_steps], as integers.

  Cycle i lasts round(t_0 * t_mult**i) steps (at least 1), so restarts land on
  exact steps rather than on a floating-point log.
  """
  starts, start, i = [0], 0, 0
  while start <= num_steps:
    start += max(1, int(round(t_0 * t_mult ** i)))
    starts.append(start)
    i += 1
  return starts


def sgdr(t_0: int, t_mult: float, eta_min: float, eta_max: float,
         num_steps: int) -> optax.Schedule:
  """SGDR, cosine annealing with warm restarts (Loshchilov & Hutter 2017, eq. 5).

    lr = eta_min + (eta_max - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
  where T_i = t_0 * t_mult**i is the length of cycle i and T_cur the steps
  since its start: each cycle restarts at eta_max exactly on its first step.

  Args:
    t_0: steps in the first cycle.
    t_mult: growth factor of each next cycle (1 = equal cycles).
    eta_min, eta_max: the lr range.
    num_steps: the run's length; cycle boundaries are precomputed up to it
      (with t_mult > 1; past the last boundary the lr stays at eta_min).
  """
  if t_0 <= 0 or t_mult < 1:
    raise UserError(f'SGDR needs t_0 > 0 and t_mult >= 1 (got t_0={t_0}, t_mult={t_mult})')
  if t_mult == 1:
    def schedule(step):
      t_cur = jnp.mod(jnp.asarray(step, jnp.int32), t_0).astype(jnp.float32)
      return eta_min + (eta_max - eta_min) * 0.5 * (1.0 + jnp.cos(jnp.pi * t_cur / t_0))
    return schedule

  starts = jnp.asarray(sgdr_cycle_starts(t_0, t_mult, num_steps), jnp.int32)

  def schedule(step):
    step = jnp.asarray(step, jnp.int32)
    i = jnp.clip(jnp.searchsorted(starts, step, side='right') - 1, 0, len(starts) - 2)
    length = (starts[i + 1] - starts[i]).astype(jnp.float32)
    t_cur = jnp.minimum((step - starts[i]).astype(jnp.float32), length)
    return eta_min + (eta_max - eta_min) * 0.5 * (1.0 + jnp.cos(jnp.pi * t_cur / length))

  return schedule


def triangle(peak: float, num_steps: int, pct_start: float, start_scale: float,
             end_scale: float) -> optax.Schedule:
  """airbench's piecewise-linear schedule, as multipliers of `peak`.

    w = int(num_steps * pct_start)
    t < w:  peak * (start_scale + (1 - start_scale) * t / w)
    t >= w: peak * (1 + (end_scale - 1) * (t - w) / (num_steps - w))
  (airbench94: 0.2 -> 1.0 at 23% of the steps -> 0.07).
  """
  warmup = int(num_steps * pct_start)
  rest = max(num_steps - warmup, 1)

  def schedule(step):
    t = jnp.asarray(step, jnp.float32)
    up = start_scale + (1.0 - start_scale) * t / max(warmup, 1)
    down = 1.0 + (end_scale - 1.0) * (t - warmup) / rest
    return peak * jnp.where(t < warmup, up, down)

  return schedule


def with_warmup(schedule: optax.Schedule, warmup_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 to schedule(0) over warmup_steps, then schedule(t - warmup)."""
  if warmup_steps <= 0:
    return schedule
  ramp = optax.linear_schedule(0.0, schedule(0), warmup_steps)
  return optax.join_schedules([ramp, schedule], [warmup_steps])


# ---- builders (config -> schedule) ------------------------------------------------

def epochs_to_steps(num_epochs: float, steps_per_epoch: int) -> int:
  """A run of num_epochs (possibly fractional, airbench's 9.9) in steps, rounded up."""
  return int(math.ceil(num_epochs * steps_per_epoch - 1e-9))


def steps_for(config: ml_collections.ConfigDict, num_train_images: int) -> Tuple[int, int]:
  """(steps_per_epoch, num_train_steps); the last partial batch of an epoch is dropped."""
  steps_per_epoch = num_train_images // config.batch_size
  if steps_per_epoch == 0:
    raise UserError(f'batch_size={config.batch_size} is larger than the {num_train_images} '
                    'training images: lower --config.batch_size')
  if config.num_train_steps > 0:
    return steps_per_epoch, config.num_train_steps
  return steps_per_epoch, epochs_to_steps(config.num_epochs, steps_per_epoch)


def _steps(epochs: float, steps_per_epoch: int) -> int:
  return int(round(epochs * steps_per_epoch))


def parse_epochs(text: str) -> List[float]:
  """'30,60, 90' -> [30.0, 60.0, 90.0] (config strings hold lists of epochs)."""
  try:
    return [float(x) for x in str(text).replace(' ', '').split(',') if x]
  except ValueError:
    raise UserError(f'schedule.boundaries_epochs={text!r}: expected comma-separated '
                    'epochs such as "30,60,90"') from None


@SCHEDULES.register('constant')
def constant(config: ml_collections.ConfigDict, steps_per_epoch: int,
             num_train_steps: int) -> optax.Schedule:
  del steps_per_epoch, num_train_steps
  return optax.constant_schedule(config.optimizer.lr)


@SCHEDULES.register('piecewise')
def piecewise(config, steps_per_epoch, num_train_steps):
  """lr times decay_rate at each of boundaries_epochs ('30,60,90')."""
  del num_train_steps
  boundaries = parse_epochs(config.schedule.boundaries_epochs)
  if not boundaries:
    raise UserError('schedule.name=piecewise needs --config.schedule.boundaries_epochs, '
                    'e.g. "30,60,90" (epochs at which lr is multiplied by decay_rate)')
  scales = {}
  for epoch in boundaries:
    step = _steps(epoch, steps_per_epoch)
    scales[step] = scales.get(step, 1.0) * config.schedule.decay_rate
  return optax.piecewise_constant_schedule(config.optimizer.lr, scales)


@SCHEDULES.register('step')
def step_decay(config, steps_per_epoch, num_train_steps):
  """lr times decay_rate every decay_epochs (the Keras 'step decay' callback)."""
  del num_train_steps
  return optax.exponential_decay(
      config.optimizer.lr, max(1, _steps(config.schedule.decay_epochs, steps_per_epoch)),
      config.schedule.decay_rate, staircase=True)


@SCHEDULES.register('exponential')
def exponential(config, steps_per_epoch, num_train_steps):
  """lr * decay_rate ** (step / decay_steps), smooth (Keras ExponentialDecay)."""
  del num_train_steps
  return optax.exponential_decay(
      config.optimizer.lr, max(1, _steps(config.schedule.decay_epochs, steps_per_epoch)),
      config.schedule.decay_rate)


@SCHEDULES.register('time_based')
def time_based_decay(config, steps_per_epoch, num_train_steps):
  """Keras' `SGD(decay=...)`: lr / (1 + time_decay * step)."""
  del steps_per_epoch, num_train_steps
  return time_based(config.optimizer.lr, config.schedule.time_decay)


@SCHEDULES.register('cosine')
def cosine(config, steps_per_epoch, num_train_steps):
  """Cosine decay from lr to min_lr over the run (Loshchilov & Hutter, no restarts)."""
  del steps_per_epoch
  lr = config.optimizer.lr
  return optax.cosine_decay_schedule(lr, max(1, num_train_steps),
                                     alpha=config.schedule.min_lr / lr if lr else 0.0)


@SCHEDULES.register('warmup_cosine')
def warmup_cosine(config, steps_per_epoch, num_train_steps):
  """Linear warm-up over warmup_epochs from 0 to lr, then cosine to min_lr."""
  warmup = _steps(config.schedule.warmup_epochs, steps_per_epoch)
  if warmup <= 0:
    raise UserError('schedule.name=warmup_cosine needs --config.schedule.warmup_epochs > 0')
  return optax.warmup_cosine_decay_schedule(0.0, config.optimizer.lr, warmup,
                                            max(num_train_steps, warmup + 1),
                                            end_value=config.schedule.min_lr)


@SCHEDULES.register('one_cycle')
def one_cycle(config, steps_per_epoch, num_train_steps):
  """Smith & Topin's 1cycle (cosine form, as fastai / PyTorch OneCycleLR).

  lr / div_factor up to lr over pct_start of the run, then down to
  lr / (div_factor * final_div_factor).
  """
  del steps_per_epoch
  s = config.schedule
  return optax.cosine_onecycle_schedule(max(2, num_train_steps), config.optimizer.lr,
                                        s.pct_start, s.div_factor, s.final_div_factor)


@SCHEDULES.register('triangle')
def triangle_schedule(config, steps_per_epoch, num_train_steps):
  """airbench's triangle: start_scale * lr up to lr at pct_start, down to end_scale * lr."""
  del steps_per_epoch
  s = config.schedule
  return triangle(config.optimizer.lr, num_train_steps, s.pct_start, s.start_scale, s.end_scale)


def _clr(mode):
  def build(config, steps_per_epoch, num_train_steps):
    del num_train_steps
    s = config.schedule
    step_size = s.step_size_steps or s.step_size_epochs * steps_per_epoch
    return cyclic(s.min_lr, config.optimizer.lr, step_size, mode, s.gamma)
  build.__doc__ = f'Cyclical lr, {mode} mode, between min_lr (base_lr) and lr (max_lr).'
  return build


for _mode in CLR_MODES:
  SCHEDULES.add(_mode, _clr(_mode))


@SCHEDULES.register('sgdr')
def sgdr_schedule(config, steps_per_epoch, num_train_steps):
  """SGDR between min_lr (eta_min) and lr (eta_max), first cycle t0_epochs long."""
  s = config.schedule
  t_0 = _steps(s.t0_epochs, steps_per_epoch)
  return sgdr(max(1, t_0), s.t_mult, s.min_lr, config.optimizer.lr, num_train_steps)


@SCHEDULES.register('reduce_on_plateau')
def reduce_on_plateau(config, steps_per_epoch, num_train_steps):
  """Constant lr; cnnlab.optimizers scales it when the val metric plateaus."""
  return constant(config, steps_per_epoch, num_train_steps)


def create_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int,
                    num_train_steps: int) -> optax.Schedule:
  """The schedule config.schedule.name describes, with the optional warm-up.

  A positive `schedule.warmup_epochs` prepends a linear ramp from 0 and runs
  the schedule proper over the remaining steps (as optax's warmup_cosine).
  """
  build = SCHEDULES.get(config.schedule.name)
  warmup = _steps(config.schedule.warmup_epochs, steps_per_epoch)
  if config.schedule.name in OWN_WARMUP or warmup <= 0:
    return build(config, steps_per_epoch, num_train_steps)
  if warmup >= num_train_steps:
    raise UserError(f'schedule.warmup_epochs={config.schedule.warmup_epochs} covers the whole '
                    f'run ({num_train_steps} steps): lower it')
  return with_warmup(build(config, steps_per_epoch, num_train_steps - warmup), warmup)
