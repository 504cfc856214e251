"""Optimizers over optax, each registered by name in OPTIMIZERS, plus regularizers.

`create_optimizer` builds, from config.optimizer / config.schedule / config.freeze:

  multi_transform(                      only when config.freeze is set:
    trainable: chain(                   frozen params get zero updates
      inject_hyperparams(               current lr lives in the optimizer state
        chain(add_decayed_weights(2*l2)   coupled L2 (Keras kernel_regularizer)
              clip_by_global_norm,        gradient clipping
              <optimizer>(lr),            sgd, adam, adamw, ...
              add_decayed_weights(-lr*wd))  decoupled weight decay (adamw: built in)
      )(learning_rate=schedule),
      plateau_scale,                    reduce-on-plateau, set by after_eval
      max_norm),                        Keras max_norm(c), after the update
    frozen: set_to_zero)

L2, weight decay and max-norm apply only to kernels (`decay_mask`): biases and
BatchNorm scales/offsets are spared, as Keras' per-layer kernel_regularizer /
kernel_constraint do.

Defaults are optax's; where Keras' differ the config field comment says so
(`optimizer.eps`, `optimizer.rho`, `optimizer.eps_in_sqrt`).
"""
import re
from typing import Any, Callable, Dict, NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import optax

from cnnlab import schedules
from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

OPTIMIZERS = Registry('optimizer', 'optimizer.name')

# optax's defaults (used when a config field is None) and Keras 3's, for the docs.
DEFAULTS = {
    #            optax                                Keras 3
    'sgd': ({'momentum': 0.0}, {'learning_rate': 0.01, 'momentum': 0.0}),
    'adam': ({'eps': 1e-8}, {'learning_rate': 1e-3, 'eps': 1e-7}),
    'adamw': ({'eps': 1e-8}, {'learning_rate': 1e-3, 'eps': 1e-7, 'weight_decay': 4e-3}),
    'adamax': ({'eps': 1e-8}, {'learning_rate': 1e-3, 'eps': 1e-7}),
    'rmsprop': ({'rho': 0.9, 'eps': 1e-8, 'eps_in_sqrt': True},
                {'learning_rate': 1e-3, 'rho': 0.9, 'eps': 1e-7, 'eps_in_sqrt': False}),
    'adagrad': ({'eps': 1e-7, 'initial_accumulator_value': 0.1},
                {'learning_rate': 1e-3, 'eps': 1e-7, 'initial_accumulator_value': 0.1}),
    'adadelta': ({'rho': 0.9, 'eps': 1e-6},
                 {'learning_rate': 1e-3, 'rho': 0.95, 'eps': 1e-7}),
    # Neither library has it: airbench's values are in configs/airbench.py.
    'airbench_sgd': ({}, {}),
    'airbench_muon': ({}, {}),
}


def _given(value, name: str, optimizer: str):
  """A config value, or optax's default for `optimizer` when the field is None."""
  return DEFAULTS[optimizer][0][name] if value is None else value


MOMENTUM_STYLES = ('optax', 'keras')


@OPTIMIZERS.register('sgd')
def sgd(config, learning_rate):
  o = config.optimizer
  if o.get('momentum_style', 'optax') == 'keras' and o.momentum:
    # Keras: v = m*v - lr*g, then w += v (nesterov: w += m*v - lr*g). Scaling
    # by the lr before the trace puts the lr inside the velocity.
    return optax.chain(optax.scale_by_learning_rate(learning_rate),
                       optax.trace(decay=o.momentum, nesterov=o.nesterov))
  return optax.sgd(learning_rate, momentum=o.momentum or None, nesterov=o.nesterov)


@OPTIMIZERS.register('adam')
def adam(config, learning_rate):
  o = config.optimizer
  return optax.adam(learning_rate, b1=o.b1, b2=o.b2, eps=_given(o.eps, 'eps', 'adam'))


@OPTIMIZERS.register('adamw')
def adamw(config, learning_rate):
  o = config.optimizer
  return optax.adamw(learning_rate, b1=o.b1, b2=o.b2, eps=_given(o.eps, 'eps', 'adamw'),
                     weight_decay=o.weight_decay, mask=decay_mask)


@OPTIMIZERS.register('adamax')
def adamax(config, learning_rate):
  o = config.optimizer
  return optax.adamax(learning_rate, b1=o.b1, b2=o.b2, eps=_given(o.eps, 'eps', 'adamax'))


@OPTIMIZERS.register('rmsprop')
def rmsprop(config, learning_rate):
  o = config.optimizer
  return optax.rmsprop(learning_rate, decay=_given(o.rho, 'rho', 'rmsprop'),
                       eps=_given(o.eps, 'eps', 'rmsprop'), eps_in_sqrt=o.eps_in_sqrt,
                       centered=o.centered, momentum=o.rmsprop_momentum or None)


def is_norm_bias(path, leaf) -> bool:
  """A BatchNorm offset (Flax names it BatchNorm_<i>/bias)."""
  del leaf
  names = path_name(path).split('/')
  return names[-1] == 'bias' and any(n.startswith('BatchNorm') for n in names[:-1])


def airbench_sgd_step_size(config) -> float:
  """What airbench's lr (per 1024 examples) becomes per step of a mean-loss batch.

  airbench divides by 1024 (1 + 1 / (1 - momentum)), the steady-state size of
  a Nesterov step relative to the gradient, so lr and momentum tune
  independently, and sums the loss over the batch: batch_size / 1024 ...
  times a mean-loss gradient.
  """
  o = config.optimizer
  return config.batch_size / (1024.0 * (1.0 + 1.0 / (1.0 - o.momentum)))


@OPTIMIZERS.register('airbench_sgd')
def airbench_sgd(config, learning_rate):
  """airbench94's Nesterov SGD: lr and weight decay per 1024 examples, scaled to the batch.

  For each group g (BatchNorm biases at norm_bias_lr_scale x lr, the rest at
  lr), exactly PyTorch's SGD(nesterov=True) with airbench's settings:
    g_t = grad + wd / (lr s_g) * w       (decay through the momentum, as torch)
    w  -= schedule * lr s_g * K * nesterov_trace(g_t)
  with K = airbench_sgd_step_size. The decay per step is then wd * K *
  schedule * w whatever lr is ("decoupled" from lr in airbench's sense).
  Every parameter decays, biases included, as in airbench.
  """
  o = config.optimizer
  step_size = airbench_sgd_step_size(config)

  def group(lr_scale):
    return optax.chain(
        optax.add_decayed_weights(o.weight_decay / (o.lr * lr_scale)) if o.weight_decay
        else optax.identity(),
        optax.trace(decay=o.momentum, nesterov=True),
        optax.scale(-learning_rate * lr_scale * step_size))

  labels = lambda params: jax.tree_util.tree_map_with_path(
      lambda path, leaf: 'norm_bias' if is_norm_bias(path, leaf) else 'other', params)
  return optax.multi_transform(
      {'norm_bias': group(o.norm_bias_lr_scale), 'other': group(1.0)}, labels)


def normalize_weights() -> optax.GradientTransformation:
  """Rescales each weight to Frobenius norm sqrt(its output channels) before the step.

  airbench94_muon does `p *= sqrt(len(p)) / ||p||` (len = output channels in
  PyTorch's [out, in, h, w]; Flax's last axis) before every Muon step: the
  filters stay on a sphere and only their direction learns. Put it last in a
  chain whose updates do not depend on the weights (Muon's): it adds the
  move onto the sphere to them.
  """

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('normalize_weights needs params')
    def move(u, p):
      scale = jnp.sqrt(jnp.asarray(p.shape[-1], p.dtype)) / jnp.maximum(jnp.linalg.norm(p), 1e-12)
      return u + (p * scale - p)
    return jax.tree.map(move, updates, params), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def _airbench_muon_label(path, leaf) -> str:
  names = path_name(path)
  if getattr(leaf, 'ndim', 0) == 4 and not names.startswith('whiten/'):
    return 'filters'
  if names.startswith('whiten/'):
    return 'whiten_bias'
  if is_norm_bias(path, leaf):
    return 'norm_bias'
  return 'head'


@OPTIMIZERS.register('airbench_muon')
def airbench_muon(config, learning_rate):
  """airbench94_muon's optimizers: Muon on the conv filters, Nesterov SGD on the rest.

  filters (4-D, whitening excluded): weights renormalized to norm sqrt(out
    channels), then optax.contrib's Muon (momentum `momentum`, Nesterov, 3
    Newton-Schulz steps) with dimension numbers reducing over (h, w, in) and
    orthogonalizing per output channel, step lr (the scheduled learning_rate).
  BatchNorm biases and the whitening bias at bias_lr, the head at head_lr:
    PyTorch SGD(nesterov, momentum sgd_momentum) on the summed loss with
    weight decay weight_decay * batch_size through the momentum, as airbench.
  The scheduled multiplier (learning_rate / lr) scales every group; the
  whitening bias additionally stops after train_only_first_epochs.
  """
  o = config.optimizer
  multiplier = learning_rate / o.lr
  batch = config.batch_size
  decay = o.weight_decay * batch  # airbench: wd = 2e-6 * batch_size per step

  def sgd_group(lr):
    return optax.chain(
        optax.add_decayed_weights(decay / (lr * batch)) if decay else optax.identity(),
        optax.trace(decay=o.sgd_momentum, nesterov=True),
        optax.scale(-lr * batch * multiplier))

  dims = optax.contrib.MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3)
  muon = optax.chain(
      optax.contrib.muon(learning_rate, ns_steps=3, beta=o.momentum, nesterov=True,
                         muon_weight_dimension_numbers=lambda params: jax.tree.map(
                             lambda _: dims, params)),
      normalize_weights())
  labels = lambda params: jax.tree_util.tree_map_with_path(_airbench_muon_label, params)
  return optax.multi_transform(
      {'filters': muon, 'norm_bias': sgd_group(o.bias_lr), 'whiten_bias': sgd_group(o.bias_lr),
       'head': sgd_group(o.head_lr)}, labels)


def scale_by_rss_eps_outside(initial_accumulator_value: float, eps: float
                             ) -> optax.GradientTransformation:
  """Adagrad's scaling with eps outside the root: g / (sqrt(sum of g**2) + eps).

  What Keras 2 (accumulator from 0) and tf.keras 2.x (from 0.1, TensorFlow's
  ApplyAdagradV2) computed; optax and Keras 3 divide by sqrt(sum + eps).
  """

  def init_fn(params):
    return optax.ScaleByRssState(sum_of_squares=jax.tree.map(
        lambda p: jnp.full_like(p, initial_accumulator_value), params))

  def update_fn(updates, state, params=None):
    del params
    total = jax.tree.map(lambda g, t: jnp.square(g) + t, updates, state.sum_of_squares)
    updates = jax.tree.map(lambda g, t: g / (jnp.sqrt(t) + eps), updates, total)
    return updates, optax.ScaleByRssState(sum_of_squares=total)

  return optax.GradientTransformation(init_fn, update_fn)


@OPTIMIZERS.register('adagrad')
def adagrad(config, learning_rate):
  """Adagrad as Keras 3 computes it by default (= optax's): the accumulator
  starts at initial_accumulator_value (0.1) and the step is
  lr g / sqrt(accumulator + eps), eps 1e-7. eps_in_sqrt=False divides by
  sqrt(accumulator) + eps instead (Keras 2, tf.keras 2.x)."""
  o = config.optimizer
  initial = _given(o.get('initial_accumulator_value'), 'initial_accumulator_value', 'adagrad')
  eps = _given(o.eps, 'eps', 'adagrad')
  if o.eps_in_sqrt:
    return optax.adagrad(learning_rate, initial_accumulator_value=initial, eps=eps)
  return optax.chain(scale_by_rss_eps_outside(initial, eps),
                     optax.scale_by_learning_rate(learning_rate))


@OPTIMIZERS.register('adadelta')
def adadelta(config, learning_rate):
  o = config.optimizer
  return optax.adadelta(learning_rate, rho=_given(o.rho, 'rho', 'adadelta'),
                        eps=_given(o.eps, 'eps', 'adadelta'))


# ---- masks and constraints --------------------------------------------------------

def path_name(path) -> str:
  """'Conv_0/kernel' for a jax key path (the names freeze regexes match)."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k))))
                  for k in path)


def is_kernel(path, leaf) -> bool:
  """Conv / Dense kernels: >= 2 dims and not a bias or BatchNorm scale."""
  name = path_name(path).rsplit('/', 1)[-1]
  return getattr(leaf, 'ndim', 0) >= 2 and name not in ('bias', 'scale')


def decay_mask(params: Any) -> Any:
  """True for the params that L2, weight decay and max-norm apply to (kernels)."""
  return jax.tree_util.tree_map_with_path(is_kernel, params)


MAX_NORM_AXES = ('keras', 'filter')
KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), in MaxNorm's denominator


def max_norm(max_value: float, mask: Callable[[Any], Any] = decay_mask, axes: str = 'keras'
             ) -> optax.GradientTransformation:
  """Keras `max_norm(c)` as a kernel constraint: applied to the weights after each update.

  axes='keras' is Keras' MaxNorm(c) with its default axis=0: norms over the
  kernel's first axis (Dense [in, out]: each output unit's incoming weights;
  Conv [h, w, in, out]: each column of kernel rows, not the whole filter), and
  Keras' formula w * clip(norm, 0, c) / (epsilon + norm). axes='filter'
  takes each output unit's norm over all its other axes (a conv's whole
  filter: Keras' MaxNorm(c, axis=[0, 1, 2])). Must come last in a chain: it
  turns `updates` into the step that lands on the constrained weights.
  """
  if axes not in MAX_NORM_AXES:
    raise UserError(f'optimizer.max_norm_axes={axes!r}: use one of {", ".join(MAX_NORM_AXES)}')

  def project(w):
    reduce = (0,) if axes == 'keras' else tuple(range(w.ndim - 1))
    norms = jnp.sqrt(jnp.sum(jnp.square(w), axis=reduce, keepdims=True))
    return w * (jnp.clip(norms, 0.0, max_value) / (KERAS_EPSILON + norms))

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('max_norm needs params')
    selected = mask(params)
    updates = jax.tree.map(
        lambda u, p, keep: project(p + u) - p if keep else u, updates, params, selected)
    return updates, state

  return optax.GradientTransformation(init_fn, update_fn)


def kernels_matching(pattern: str) -> Callable[[Any], Any]:
  """decay_mask restricted to the kernels whose path matches `pattern` ('' = all)."""
  regex = re.compile(pattern) if pattern else None

  def mask(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: is_kernel(path, leaf) and (
            regex is None or bool(regex.search(path_name(path)))), params)

  return mask


def train_for_steps(num_steps: int, pattern: str) -> optax.GradientTransformation:
  """Zeroes the updates of params matching `pattern` from step `num_steps` on.

  airbench trains its whitening bias for the first 3 epochs only. Placed
  last in the chain, the matched params stop exactly (weight decay included)
  while their optimizer state is kept, as PyTorch's requires_grad=False does.
  """
  regex = re.compile(pattern)

  def init_fn(params):
    del params
    return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    del params
    keep = state.count < num_steps
    updates = jax.tree_util.tree_map_with_path(
        lambda path, u: jnp.where(keep, u, jnp.zeros_like(u))
        if regex.search(path_name(path)) else u, updates)
    return updates, optax.ScaleByScheduleState(count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def freeze_labels(pattern: str) -> Callable[[Any], Any]:
  """Param labels for multi_transform: 'frozen' where re.search(pattern, path)."""
  regex = re.compile(pattern)

  def labels(params):
    tree = jax.tree_util.tree_map_with_path(
        lambda path, _: 'frozen' if regex.search(path_name(path)) else 'trainable', params)
    if 'frozen' not in jax.tree_util.tree_leaves(tree):
      names = [path_name(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
      raise UserError(f'freeze={pattern!r} matches no parameter; names look like: '
                      + ', '.join(names[:8]) + (' ...' if len(names) > 8 else ''))
    return tree

  return labels


# ---- reduce on plateau ------------------------------------------------------------

class PlateauState(NamedTuple):
  """Keras ReduceLROnPlateau's counters, kept in the optimizer state (checkpointed).

  The settings ride along as arrays so that `after_eval(opt_state, val)` needs
  nothing but the state.
  """
  scale: jax.Array  # multiplies the scheduled lr
  best: jax.Array  # best monitored value so far (sign-adjusted: lower is better)
  num_bad: jax.Array  # evaluations without improvement
  cooldown_left: jax.Array
  factor: jax.Array
  patience: jax.Array
  min_delta: jax.Array
  cooldown: jax.Array
  min_scale: jax.Array  # min_lr / lr
  maximize: jax.Array  # 1 when monitoring accuracy


PLATEAU_MONITORS = ('val_loss', 'val_accuracy')


def plateau_scale(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Multiplies updates by a scale that `after_eval` lowers on a plateau."""
  s = config.schedule
  if s.plateau_monitor not in PLATEAU_MONITORS:
    raise UserError(f'schedule.plateau_monitor={s.plateau_monitor!r}: use one of '
                    f'{", ".join(PLATEAU_MONITORS)}')
  f32 = lambda x: jnp.asarray(x, jnp.float32)

  def init_fn(params):
    del params
    return PlateauState(
        scale=f32(1.0), best=f32(jnp.inf), num_bad=jnp.asarray(0, jnp.int32),
        cooldown_left=jnp.asarray(0, jnp.int32), factor=f32(s.plateau_factor),
        patience=jnp.asarray(s.plateau_patience, jnp.int32), min_delta=f32(s.plateau_min_delta),
        cooldown=jnp.asarray(s.plateau_cooldown, jnp.int32),
        min_scale=f32(s.plateau_min_lr / config.optimizer.lr if config.optimizer.lr else 0.0),
        maximize=jnp.asarray(s.plateau_monitor == 'val_accuracy', jnp.int32))

  def update_fn(updates, state, params=None):
    del params
    return jax.tree.map(lambda u: u * state.scale.astype(u.dtype), updates), state

  return optax.GradientTransformation(init_fn, update_fn)


@jax.jit
def plateau_update(state: PlateauState, value: jax.Array) -> PlateauState:
  """One ReduceLROnPlateau.on_epoch_end (Keras' logic) for monitored `value`."""
  value = jnp.where(state.maximize == 1, -value, value)
  in_cooldown = state.cooldown_left > 0
  # Keras counts the cooldown down first, resetting the wait, and then asks
  # again whether it is in cooldown: the evaluation that ends a cooldown
  # already counts as a bad one.
  cooldown_left = jnp.where(in_cooldown, state.cooldown_left - 1, 0)
  still_cooling = cooldown_left > 0
  improved = value < state.best - state.min_delta
  num_bad = jnp.where(in_cooldown, 0, state.num_bad)
  num_bad = jnp.where(improved, 0, jnp.where(still_cooling, num_bad, num_bad + 1))
  reduce = (~improved & ~still_cooling & (num_bad >= state.patience)
            & (state.scale > state.min_scale))
  return state._replace(
      best=jnp.where(improved, value, state.best),
      scale=jnp.where(reduce, jnp.maximum(state.scale * state.factor, state.min_scale),
                      state.scale),
      num_bad=jnp.where(reduce, 0, num_bad),
      cooldown_left=jnp.where(reduce, state.cooldown, cooldown_left))


# ---- the optimizer ----------------------------------------------------------------

# Optimizers that apply config.optimizer.weight_decay themselves.
OWN_WEIGHT_DECAY = ('adamw', 'airbench_sgd', 'airbench_muon')


def create_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int,
                     num_train_steps: int, schedule: optax.Schedule = None,
                     frozen: str = '') -> optax.GradientTransformation:
  """The optimizer config describes (see the module docstring for the chain).

  Args:
    config: the run's config (optimizer, schedule, freeze sections).
    steps_per_epoch: converts schedule lengths given in epochs.
    num_train_steps: the run's length.
    schedule: overrides config.schedule (cnnlab.lr_find's exponential sweep).
    frozen: a regex of params the model itself keeps fixed
      (models.frozen_params), frozen in addition to config.freeze.
  """
  o = config.optimizer
  if schedule is None:
    schedule = schedules.create_schedule(config, steps_per_epoch, num_train_steps)
  build = OPTIMIZERS.get(o.name)
  for field in ('l2', 'weight_decay', 'grad_clip_norm', 'max_norm'):
    if o[field] < 0:
      raise UserError(f'optimizer.{field}={o[field]} must be >= 0 (0 = off)')
  if o.get('momentum_style', 'optax') not in MOMENTUM_STYLES:
    raise UserError(f'optimizer.momentum_style={o.momentum_style!r} is not one of '
                    f'{MOMENTUM_STYLES}')
  if (o.get('initial_accumulator_value') or 0.0) < 0:
    raise UserError(f'optimizer.initial_accumulator_value={o.initial_accumulator_value} '
                    'must be >= 0')

  def with_regularizers(learning_rate):
    parts = []
    if o.l2:
      # d/dw of l2 * sum(w**2), added before clipping as Keras' loss term would be.
      parts.append(optax.add_decayed_weights(2.0 * o.l2, decay_mask))
    if o.grad_clip_norm:
      parts.append(optax.clip_by_global_norm(o.grad_clip_norm))
    parts.append(build(config, learning_rate))
    if o.weight_decay and o.name not in OWN_WEIGHT_DECAY:
      # Decoupled: w -= lr * wd * w, scaled by the schedule as optax.adamw does.
      parts.append(optax.add_decayed_weights(-learning_rate * o.weight_decay, decay_mask))
    return optax.chain(*parts)

  tx = optax.inject_hyperparams(with_regularizers)(learning_rate=schedule)
  if config.schedule.name == 'reduce_on_plateau':
    tx = optax.chain(tx, plateau_scale(config))
  if o.max_norm:
    tx = optax.chain(tx, max_norm(o.max_norm, kernels_matching(o.get('max_norm_layers', '')),
                                  o.get('max_norm_axes', 'keras')))
  if config.get('train_only_first_epochs', 0) > 0 and config.train_only_first:
    tx = optax.chain(tx, train_for_steps(
        int(round(config.train_only_first_epochs * steps_per_epoch)), config.train_only_first))
  freeze = '|'.join(f'(?:{p})' for p in (config.freeze, frozen) if p)
  if freeze:
    tx = optax.multi_transform({'trainable': tx, 'frozen': optax.set_to_zero()},
                               freeze_labels(freeze))
  return tx


def _find(opt_state: Any, kind) -> list:
  is_kind = lambda x: isinstance(x, kind)
  return [x for x in jax.tree_util.tree_leaves(opt_state, is_leaf=is_kind) if is_kind(x)]


def _injected_lr(opt_state: Any) -> Optional[Any]:
  """The injected learning_rate the last update used; None if the state has none."""
  has_hyperparams = lambda x: 'learning_rate' in getattr(x, 'hyperparams', {})
  for leaf in jax.tree_util.tree_leaves(opt_state, is_leaf=has_hyperparams):
    if has_hyperparams(leaf):
      return leaf.hyperparams['learning_rate']
  return None


def current_lr(opt_state: Any) -> float:
  """The learning rate the last update used (injected lr times any plateau scale)."""
  injected = _injected_lr(opt_state)
  if injected is None:
    raise ValueError('optimizer state has no injected learning_rate')
  lr = float(injected)
  for plateau in _find(opt_state, PlateauState):
    lr *= float(plateau.scale)
  return lr


def step_lr(opt_state: Any) -> Optional[jax.Array]:
  """current_lr as a float32 array, for use inside a jitted step (None without one)."""
  injected = _injected_lr(opt_state)
  if injected is None:
    return None
  lr = jnp.asarray(injected, jnp.float32)
  for plateau in _find(opt_state, PlateauState):
    lr = lr * plateau.scale.astype(jnp.float32)
  return lr


def after_eval(opt_state: Any, val_metrics: Dict[str, Any]) -> Any:
  """Hook the train loop calls after each validation: drives reduce-on-plateau.

  Args:
    opt_state: the optimizer state.
    val_metrics: {'loss': ..., 'accuracy': ...} of the validation split.

  Returns:
    opt_state with its PlateauState (if any) advanced by one evaluation.
  """
  if not _find(opt_state, PlateauState):
    return opt_state

  def advance(x):
    if not isinstance(x, PlateauState):
      return x
    value = val_metrics['accuracy'] if int(x.maximize) else val_metrics['loss']
    return plateau_update(x, jnp.asarray(value, jnp.float32))

  return jax.tree.map(advance, opt_state, is_leaf=lambda x: isinstance(x, PlateauState))
