"""Optimizers, regularizer masks, max-norm, clipping and reduce-on-plateau."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnlab import steps

from cnnlab import optimizers
from cnnlab.core.errors import UserError
from configs import base


def make_config(name='sgd', lr=0.1, **optimizer):
  config = base.get_config()
  config.optimizer.name = name
  config.optimizer.lr = lr
  config.optimizer.momentum = 0.0
  for key, value in optimizer.items():
    if key.startswith('schedule.'):
      config.schedule[key.split('.', 1)[1]] = value
    elif key == 'freeze':
      config.freeze = value
    else:
      config.optimizer[key] = value
  return config


def flax_like_params(seed=0):
  """A params tree shaped like a Conv + BatchNorm + Dense flax model."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(jnp.asarray, {
      'Conv_0': {'kernel': rng.normal(size=(3, 3, 2, 4)), 'bias': np.ones(4)},
      'BatchNorm_0': {'scale': np.ones(4), 'bias': np.full(4, 0.5)},
      'Dense_0': {'kernel': rng.normal(size=(4, 3)), 'bias': np.ones(3)},
  })


def step(tx, params, grads, state=None):
  state = tx.init(params) if state is None else state
  updates, state = tx.update(grads, state, params)
  return optax.apply_updates(params, updates), state


def zeros_like(tree):
  return jax.tree.map(jnp.zeros_like, tree)


def test_decay_mask_spares_biases_and_batchnorm():
  mask = optimizers.decay_mask(flax_like_params())
  assert mask == {'Conv_0': {'kernel': True, 'bias': False},
                  'BatchNorm_0': {'scale': False, 'bias': False},
                  'Dense_0': {'kernel': True, 'bias': False}}


@pytest.mark.parametrize('name', ['sgd', 'adamw'])
def test_decoupled_weight_decay_is_masked(name):
  params = flax_like_params()
  tx = optimizers.create_optimizer(make_config(name, lr=0.1, weight_decay=0.5), 10, 100)
  new, _ = step(tx, params, zeros_like(params))  # zero gradient: only decay moves params
  for layer, leaf in [('Conv_0', 'bias'), ('BatchNorm_0', 'scale'), ('BatchNorm_0', 'bias'),
                      ('Dense_0', 'bias')]:
    np.testing.assert_array_equal(new[layer][leaf], params[layer][leaf])
  for layer in ('Conv_0', 'Dense_0'):  # w -= lr * wd * w
    np.testing.assert_allclose(new[layer]['kernel'], params[layer]['kernel'] * (1 - 0.05),
                               rtol=1e-6)


def test_coupled_l2_is_masked_and_is_the_keras_gradient():
  params = flax_like_params()
  tx = optimizers.create_optimizer(make_config('sgd', lr=0.1, l2=0.01), 10, 100)
  new, _ = step(tx, params, zeros_like(params))
  np.testing.assert_array_equal(new['BatchNorm_0']['scale'], params['BatchNorm_0']['scale'])
  np.testing.assert_array_equal(new['Dense_0']['bias'], params['Dense_0']['bias'])
  # Keras l2(0.01): loss += 0.01 * sum(w**2), so grad = 0.02 * w.
  np.testing.assert_allclose(new['Dense_0']['kernel'],
                             params['Dense_0']['kernel'] * (1 - 0.1 * 0.02), rtol=1e-6)


def test_max_norm_holds_after_a_step():
  params = flax_like_params()
  grads = jax.tree.map(lambda p: -10.0 * jnp.ones_like(p), params)  # blow the norms up
  config = make_config('sgd', lr=1.0, max_norm=2.0, max_norm_axes='filter')
  new, _ = step(optimizers.create_optimizer(config, 10, 100), params, grads)
  conv_norms = jnp.sqrt(jnp.sum(new['Conv_0']['kernel'] ** 2, axis=(0, 1, 2)))
  dense_norms = jnp.sqrt(jnp.sum(new['Dense_0']['kernel'] ** 2, axis=0))
  assert conv_norms.shape == (4,) and dense_norms.shape == (3,)
  np.testing.assert_allclose(conv_norms, 2.0, rtol=1e-5)
  np.testing.assert_allclose(dense_norms, 2.0, rtol=1e-5)
  # Biases are not constrained (Keras' kernel_constraint).
  np.testing.assert_allclose(new['Dense_0']['bias'], params['Dense_0']['bias'] + 10.0)


@pytest.mark.parametrize('axes,keras_axis', [('keras', 0), ('filter', [0, 1, 2])])
def test_max_norm_equals_keras_maxnorm_on_named_layers(axes, keras_axis):
  import keras  # pylint: disable=g-import-not-at-top
  params = flax_like_params()
  rng = np.random.default_rng(4)
  grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(0, 3, p.shape), jnp.float32), params)
  config = make_config('sgd', lr=1.0, max_norm=2.0, max_norm_axes=axes,
                       max_norm_layers='Conv_0/kernel')
  new, _ = step(optimizers.create_optimizer(config, 10, 100), params, grads)
  stepped = jax.tree.map(lambda p, g: p - g, params, grads)  # plain SGD, lr 1
  # The named conv: Keras' MaxNorm(2, axis) applied to the stepped kernel; its
  # Dense_0 (not named) is left alone, as a layer without kernel_constraint.
  expected = keras.ops.convert_to_numpy(keras.constraints.MaxNorm(2.0, axis=keras_axis)(
      keras.ops.convert_to_tensor(np.asarray(stepped['Conv_0']['kernel']))))
  np.testing.assert_allclose(new['Conv_0']['kernel'], expected, rtol=1e-5, atol=1e-6)
  assert not np.allclose(expected, stepped['Conv_0']['kernel'])  # the constraint bit
  np.testing.assert_allclose(new['Dense_0']['kernel'], stepped['Dense_0']['kernel'], rtol=1e-6)


def test_max_norm_leaves_small_units_alone():
  params = {'Dense_0': {'kernel': jnp.array([[0.1, 3.0], [0.2, 4.0]])}}  # unit norms .22, 5
  tx = optimizers.max_norm(1.0)
  new, _ = step(tx, params, zeros_like(params))
  np.testing.assert_allclose(new['Dense_0']['kernel'], [[0.1, 0.6], [0.2, 0.8]], rtol=1e-6)


def test_grad_clip_norm():
  params = flax_like_params()
  grads = jax.tree.map(lambda p: 100.0 * jnp.ones_like(p), params)
  tx = optimizers.create_optimizer(make_config('sgd', lr=1.0, grad_clip_norm=1.0), 10, 100)
  new, _ = step(tx, params, grads)
  moved = jax.tree.map(lambda a, b: a - b, new, params)
  np.testing.assert_allclose(optax.global_norm(moved), 1.0, rtol=1e-5)


def test_keras_rmsprop_epsilon_outside_the_root():
  params = {'w': jnp.array([1.0])}
  grads = {'w': jnp.array([1e-3])}
  config = make_config('rmsprop', lr=0.01, eps=1e-7, rho=0.9, eps_in_sqrt=False)
  new, _ = step(optimizers.create_optimizer(config, 10, 100), params, grads)
  v = 0.1 * 1e-6  # (1 - rho) * g**2
  np.testing.assert_allclose(new['w'], 1.0 - 0.01 * 1e-3 / (np.sqrt(v) + 1e-7), rtol=1e-6)


@pytest.mark.parametrize('name,lr', [('sgd', 0.1), ('adam', 0.05), ('adamw', 0.05),
                                     ('adamax', 0.05), ('rmsprop', 0.01), ('adagrad', 0.3),
                                     ('adadelta', 1.0)])
def test_every_optimizer_reduces_the_loss(name, lr):
  # Softmax regression on 3 separable blobs, 25 full-batch steps.
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 20)
  x = jnp.asarray(np.eye(3)[labels] * 2 + rng.normal(0, 0.5, (60, 3)), jnp.float32)
  params = {'Dense_0': {'kernel': jnp.zeros((3, 3)), 'bias': jnp.zeros(3)}}

  def loss_fn(p):
    logits = x @ p['Dense_0']['kernel'] + p['Dense_0']['bias']
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  tx = optimizers.create_optimizer(make_config(name, lr=lr, momentum=0.9 * (name == 'sgd')),
                                   10, 100)
  state = tx.init(params)

  @jax.jit
  def update(p, s):
    grads = jax.grad(loss_fn)(p)
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s

  start = float(loss_fn(params))
  for _ in range(25):
    params, state = update(params, state)
  # adadelta starts with steps of about sqrt(eps), so the bar is modest.
  assert float(loss_fn(params)) < 0.9 * start, name


def test_documented_defaults_cover_every_optimizer():
  assert set(optimizers.DEFAULTS) == set(optimizers.OPTIMIZERS.names())


# The README table's first column, written out as optax calls (not read from
# optimizers.DEFAULTS): with every optional config field left at None, cnnlab's
# optimizer must follow exactly these trajectories.
README_DEFAULTS = {
    'sgd': lambda lr: optax.sgd(lr, momentum=0.9, nesterov=False),  # base config: 0.9
    'adam': lambda lr: optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8),
    'adamw': lambda lr: optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8),  # weight_decay 0
    'adamax': lambda lr: optax.adamax(lr, b1=0.9, b2=0.999, eps=1e-8),
    'rmsprop': lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-8, eps_in_sqrt=True),
    'adagrad': lambda lr: optax.adagrad(lr, initial_accumulator_value=0.1, eps=1e-7),
    'adadelta': lambda lr: optax.adadelta(lr, rho=0.9, eps=1e-6),
}


@pytest.mark.parametrize('name', sorted(README_DEFAULTS))
def test_default_trajectories_equal_the_documented_optax_defaults(name):
  lr = 1.0 if name == 'adadelta' else 0.05  # adadelta: lr 1.0, as the README says
  config = base.get_config()
  config.optimizer.name, config.optimizer.lr = name, lr
  params = flax_like_params()
  ours, reference = optimizers.create_optimizer(config, 10, 100), README_DEFAULTS[name](lr)
  state_a, state_b, a, b = ours.init(params), reference.init(params), params, params
  rng = np.random.default_rng(1)
  for _ in range(6):
    grads = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
    a, state_a = step(ours, a, grads, state_a)
    b, state_b = step(reference, b, grads, state_b)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)
  moved = jax.tree_util.tree_leaves(jax.tree.map(lambda x, y: float(jnp.abs(x - y).max()),
                                                 a, params))
  assert max(moved) > 1e-3, name  # the trajectories are not both standing still


def test_documented_defaults_differ_from_each_other():
  # A wrong default (eps 1e-7 for adam, rho .95 for adadelta) changes the trajectory
  # by more than the tolerance above: the comparison can fail.
  params, grads = flax_like_params(), jax.tree.map(jnp.ones_like, flax_like_params())
  for good, bad in [(optax.adam(0.05, eps=1e-8), optax.adam(0.05, eps=1e-2)),
                    (optax.adadelta(0.05, rho=0.9, eps=1e-6),
                     optax.adadelta(0.05, rho=0.95, eps=1e-6))]:
    a, _ = step(good, params, grads)
    b, _ = step(bad, params, grads)
    assert not np.allclose(a['Dense_0']['kernel'], b['Dense_0']['kernel'], rtol=1e-6, atol=1e-7)


def test_current_lr_follows_the_schedule():
  config = make_config('sgd', lr=0.1, **{'schedule.name': 'step', 'schedule.decay_epochs': 1.0,
                                          'schedule.decay_rate': 0.5})
  params = flax_like_params()
  tx = optimizers.create_optimizer(config, 2, 100)
  state = None
  lrs = []
  for _ in range(4):
    params, state = step(tx, params, zeros_like(params), state)
    lrs.append(optimizers.current_lr(state))
  np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05])


def keras_plateau_lrs(values, monitor='val_loss', lr=0.1, **settings):
  """The lr after each epoch of the real Keras ReduceLROnPlateau, driven with `values`."""
  import keras  # pylint: disable=g-import-not-at-top
  model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
  model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss='mse')
  mode = 'max' if 'accuracy' in monitor else 'min'
  callback = keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, verbose=0, **settings)
  callback.set_model(model)
  callback.on_train_begin()
  lrs = []
  for epoch, value in enumerate(values):
    callback.on_epoch_end(epoch, {monitor: value})
    lrs.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
  return lrs


PLATEAU_CASES = [
    # Improves, then stalls: a drop after 2 bad evaluations, cooldowns, the floor.
    ('val_loss', dict(patience=2, factor=0.5, cooldown=1, min_lr=0.02),
     [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97]),
    ('val_loss', dict(patience=1, factor=0.1, cooldown=2, min_lr=0.0),
     [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8, 0.4, 0.9, 0.9, 0.9, 0.9]),
    ('val_loss', dict(patience=3, factor=0.2, cooldown=0, min_lr=0.001, min_delta=0.05),
     [1.0, 0.97, 0.96, 0.9, 0.89, 0.88, 0.87, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]),
    ('val_accuracy', dict(patience=1, factor=0.5, cooldown=1, min_lr=0.0),
     [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.71, 0.7, 0.7]),
]


@pytest.mark.parametrize('monitor,settings,values', PLATEAU_CASES)
def test_reduce_on_plateau_equals_the_keras_callback(monitor, settings, values):
  config = make_config('sgd', lr=0.1, **{
      'schedule.name': 'reduce_on_plateau', 'schedule.plateau_monitor': monitor,
      'schedule.plateau_patience': settings['patience'],
      'schedule.plateau_factor': settings['factor'],
      'schedule.plateau_cooldown': settings['cooldown'],
      'schedule.plateau_min_lr': settings['min_lr'],
      'schedule.plateau_min_delta': settings.get('min_delta', 1e-4)})
  params = {'w': jnp.array([1.0])}
  tx = optimizers.create_optimizer(config, 10, 100)
  _, state = step(tx, params, {'w': jnp.array([1.0])})
  lrs = []
  for value in values:
    metrics = {'loss': value, 'accuracy': 0.5} if monitor == 'val_loss' else {
        'loss': 1.0, 'accuracy': value}
    state = optimizers.after_eval(state, metrics)
    lrs.append(optimizers.current_lr(state))
  keras_settings = dict(settings, min_delta=settings.get('min_delta', 1e-4))
  np.testing.assert_allclose(lrs, keras_plateau_lrs(values, monitor, **keras_settings),
                             rtol=1e-6)
  # The scale multiplies the update, i.e. the lr actually used.
  new, _ = step(tx, params, {'w': jnp.array([1.0])}, state)
  np.testing.assert_allclose(new['w'], 1.0 - lrs[-1], rtol=1e-6)


def test_reduce_on_plateau_on_accuracy():
  config = make_config('adam', lr=0.1, **{'schedule.name': 'reduce_on_plateau',
                                          'schedule.plateau_monitor': 'val_accuracy',
                                          'schedule.plateau_patience': 1})
  params = {'w': jnp.array([1.0])}
  state = optimizers.create_optimizer(config, 10, 100).init(params)
  for acc in [0.5, 0.6, 0.6]:
    state = optimizers.after_eval(state, {'loss': 1.0, 'accuracy': acc})
  np.testing.assert_allclose(optimizers.current_lr(state), 0.1 * 0.1, rtol=1e-6)


def test_after_eval_without_plateau_is_identity():
  params = {'w': jnp.array([1.0])}
  state = optimizers.create_optimizer(make_config('adam'), 10, 100).init(params)
  assert optimizers.after_eval(state, {'loss': 1.0, 'accuracy': 0.1}) is state


def test_bad_values_are_user_errors():
  with pytest.raises(UserError, match='Known optimizers'):
    optimizers.create_optimizer(make_config('adamm'), 10, 100)
  with pytest.raises(UserError, match='weight_decay'):
    optimizers.create_optimizer(make_config('sgd', weight_decay=-1.0), 10, 100)
  with pytest.raises(UserError, match='plateau_monitor'):
    optimizers.create_optimizer(
        make_config('sgd', **{'schedule.name': 'reduce_on_plateau',
                              'schedule.plateau_monitor': 'loss'}), 10, 100)


# ---- sgd with nesterov -----------------------------------------------------------------
def _blobs():
  """Softmax regression on 3 separable blobs: (loss_fn, zero params)."""
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 20)
  x = jnp.asarray(np.eye(3)[labels] * 2 + rng.normal(0, 0.5, (60, 3)), jnp.float32)

  def loss_fn(p):
    logits = x @ p['Dense_0']['kernel'] + p['Dense_0']['bias']
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  return loss_fn, {'Dense_0': {'kernel': jnp.zeros((3, 3)), 'bias': jnp.zeros(3)}}


def _trajectory(tx, loss_fn, params, steps):
  state, out = tx.init(params), []
  for _ in range(steps):
    updates, state = tx.update(jax.grad(loss_fn)(params), state, params)
    params = optax.apply_updates(params, updates)
    out.append(params)
  return out


def test_sgd_nesterov_matches_optax_and_differs_from_momentum():
  loss_fn, params = _blobs()
  lr, momentum, steps = 0.1, 0.9, 15
  nesterov = _trajectory(optimizers.create_optimizer(
      make_config('sgd', lr=lr, momentum=momentum, nesterov=True), 10, 100),
                         loss_fn, params, steps)
  plain = _trajectory(optimizers.create_optimizer(
      make_config('sgd', lr=lr, momentum=momentum), 10, 100), loss_fn, params, steps)
  reference = _trajectory(optax.sgd(lr, momentum=momentum, nesterov=True), loss_fn, params,
                          steps)
  for ours, theirs in zip(nesterov, reference):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 ours, theirs)
  # First step from a zero trace: nesterov moves by lr (1 + m) g, momentum by lr g.
  grad = jax.grad(loss_fn)(params)
  np.testing.assert_allclose(nesterov[0]['Dense_0']['kernel'],
                             -lr * (1 + momentum) * grad['Dense_0']['kernel'], rtol=1e-5)
  np.testing.assert_allclose(plain[0]['Dense_0']['kernel'], -lr * grad['Dense_0']['kernel'],
                             rtol=1e-5)
  assert np.abs(nesterov[0]['Dense_0']['kernel'] - plain[0]['Dense_0']['kernel']).max() > 1e-3
  start = float(loss_fn(params))
  losses = [float(loss_fn(p)) for p in nesterov]
  assert losses[0] < start and losses[-1] < 0.5 * start
  assert losses[-1] != pytest.approx(float(loss_fn(plain[-1])), rel=1e-3)


# ---- label smoothing -------------------------------------------------------------------
def test_label_smoothing_is_smoothed_cross_entropy():
  logits = np.array([[2.0, -1.0, 0.5, 0.0], [0.0, 0.0, 3.0, 1.0], [-2.0, 1.0, 0.5, 4.0]],
                    np.float32)
  labels = np.array([0, 2, 1])
  smoothing, k = 0.2, logits.shape[-1]
  onehot = np.eye(k)[labels]
  # By hand: targets (1 - a) onehot + a / K against log_softmax.
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  by_hand = -np.sum(((1 - smoothing) * onehot + smoothing / k) * log_p, axis=-1)
  via_optax = optax.softmax_cross_entropy(logits, optax.smooth_labels(onehot, smoothing))
  got = np.asarray(steps.cross_entropy_loss(jnp.asarray(logits), labels, smoothing))
  np.testing.assert_allclose(got, by_hand, rtol=1e-5)
  np.testing.assert_allclose(got, via_optax, rtol=1e-6)
  unsmoothed = np.asarray(steps.cross_entropy_loss(jnp.asarray(logits), labels))
  np.testing.assert_allclose(unsmoothed, -log_p[np.arange(3), labels], rtol=1e-5)
  assert np.all(np.abs(got - unsmoothed) > 1e-2)
  # Uniform logits: log K whatever the smoothing.
  np.testing.assert_allclose(steps.cross_entropy_loss(jnp.zeros((2, k)), labels[:2], 0.3),
                             np.log(k), rtol=1e-6)


def test_train_step_loss_uses_label_smoothing():
  # The loss train_step reports (and differentiates) is the smoothed one, on
  # the logits of the weights before the step (conv1: no dropout, no BN).
  from cnnlab import augment, models  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  batch = {'image': rng.integers(0, 256, (4, 8, 8, 1), dtype=np.uint8),
           'label': np.array([0, 1, 2, 1], np.int32)}
  pipeline = augment.create_pipeline('')
  state = steps.create_train_state(jax.random.key(0), models.create_model('conv1', 3),
                                   (8, 8, 1), optax.sgd(0.1))
  logits = state.apply_fn({'params': state.params}, pipeline.eval(batch['image'], {}),
                          train=False)
  onehot = jax.nn.one_hot(batch['label'], 3)
  losses = {}
  for smoothing in (0.0, 0.3):
    _, metrics = steps.train_step(state, batch, jax.random.key(1), pipeline=pipeline,
                                  label_smoothing=smoothing)
    expected = optax.softmax_cross_entropy(logits, optax.smooth_labels(onehot, smoothing))
    np.testing.assert_allclose(metrics['loss'], expected.mean(), rtol=1e-5)
    losses[smoothing] = float(metrics['loss'])
  assert abs(losses[0.3] - losses[0.0]) > 1e-3


# ---- Keras as the oracle: the same quadratic, step by step ------------------------
QUADRATIC_CURVATURE = np.array([0.5, 2.0, 8.0, 0.01, 1.0], np.float32)
QUADRATIC_TARGET = np.array([1.0, -2.0, 0.3, 4.0, 0.0], np.float32)


def quadratic_grad(w):
  """Gradient of 0.5 * sum(c (w - t)**2): each coordinate its own scale."""
  return QUADRATIC_CURVATURE * (np.asarray(w, np.float32) - QUADRATIC_TARGET)


def keras_trajectory(optimizer, num_steps=12):
  """The weights after each of num_steps Keras steps on the quadratic, from w = 0."""
  import keras  # pylint: disable=g-import-not-at-top
  w = keras.Variable(np.zeros(5, np.float32))
  path = []
  for _ in range(num_steps):
    optimizer.apply_gradients([(keras.ops.convert_to_tensor(
        quadratic_grad(keras.ops.convert_to_numpy(w))), w)])
    path.append(keras.ops.convert_to_numpy(w).copy())
  return np.array(path)


def cnnlab_trajectory(config, num_steps=12):
  tx = optimizers.create_optimizer(config, 10, 100)
  params = {'w': jnp.zeros(5, jnp.float32)}
  state, path = tx.init(params), []
  for _ in range(num_steps):
    params, state = step(tx, params, {'w': jnp.asarray(quadratic_grad(params['w']))}, state)
    path.append(np.asarray(params['w']))
  return np.array(path)


@pytest.mark.parametrize('initial', [None, 0.1, 0.0, 2.0])
def test_adagrad_equals_keras_adagrad(initial):
  import keras  # pylint: disable=g-import-not-at-top
  # None: cnnlab's default must be Keras 3's (accumulator 0.1, eps 1e-7 inside the root).
  expected = keras_trajectory(keras.optimizers.Adagrad(
      learning_rate=0.3, **({} if initial is None else {'initial_accumulator_value': initial})))
  config = make_config('adagrad', lr=0.3)
  config.optimizer.initial_accumulator_value = initial
  ours = cnnlab_trajectory(config)
  np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
  assert np.abs(ours[-1]).max() > 0.5  # it moved
  # eps 1e-7 is in the comparison: with 1e-3 instead the trajectory differs.
  if initial == 0.0:
    config.optimizer.eps = 1e-3
    assert np.abs(cnnlab_trajectory(config) - expected).max() > 1e-4


@pytest.mark.parametrize('initial,eps', [(0.0, 1e-7), (0.1, 1e-7), (0.0, 0.1)])
def test_adagrad_eps_outside_the_root_equals_tensorflow_apply_adagrad_v2(initial, eps):
  # Keras 2 (accumulator from 0) and tf.keras 2.x (from 0.1) step by
  # lr g / (sqrt(acc) + eps); TensorFlow's ApplyAdagradV2 kernel is that step.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  w = tf.Variable(np.zeros(5, np.float32))
  acc = tf.Variable(np.full(5, initial, np.float32))
  expected = []
  for _ in range(12):
    tf.raw_ops.ResourceApplyAdagradV2(
        var=w.handle, accum=acc.handle, lr=np.float32(0.3), epsilon=np.float32(eps),
        grad=tf.constant(quadratic_grad(w.numpy())), use_locking=False)
    expected.append(w.numpy().copy())
  config = make_config('adagrad', lr=0.3, eps=eps, eps_in_sqrt=False)
  config.optimizer.initial_accumulator_value = initial
  ours = cnnlab_trajectory(config)
  np.testing.assert_allclose(ours, np.array(expected), rtol=1e-6, atol=1e-6)
  if eps > 1e-3:  # where eps matters, Keras 3's sqrt(acc + eps) is another trajectory
    inside = make_config('adagrad', lr=0.3, eps=eps)
    inside.optimizer.initial_accumulator_value = initial
    assert np.abs(cnnlab_trajectory(inside) - ours).max() > 1e-2


@pytest.mark.parametrize('momentum', [0.0, 0.9])
def test_sgd_equals_keras_sgd(momentum):
  # Seed 000's SGD(lr=...) is Keras' momentum 0 (--config.optimizer.momentum=0);
  # seed 002's SGD(momentum=0.9). At a constant lr the two libraries agree.
  import keras  # pylint: disable=g-import-not-at-top
  expected = keras_trajectory(keras.optimizers.SGD(learning_rate=0.05, momentum=momentum))
  ours = cnnlab_trajectory(make_config('sgd', lr=0.05, momentum=momentum))
  np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
  assert np.abs(ours[-1]).max() > 0.1


def test_adagrad_refuses_a_negative_accumulator():
  config = make_config('adagrad')
  config.optimizer.initial_accumulator_value = -0.1
  with pytest.raises(UserError, match='initial_accumulator_value=-0.1 must be >= 0'):
    optimizers.create_optimizer(config, 10, 100)


@pytest.mark.parametrize('nesterov', [False, True])
def test_sgd_keras_momentum_style_equals_keras_under_a_decaying_lr(nesterov):
  # Seed 002: SGD(momentum=0.9, decay=...) with the lr inside Keras' velocity.
  import keras  # pylint: disable=g-import-not-at-top
  schedule = keras.optimizers.schedules.InverseTimeDecay(0.05, decay_steps=1, decay_rate=0.3)
  expected = keras_trajectory(keras.optimizers.SGD(learning_rate=schedule, momentum=0.9,
                                                   nesterov=nesterov))
  config = make_config('sgd', lr=0.05, momentum=0.9, nesterov=nesterov,
                       momentum_style='keras')
  config.schedule.name = 'time_based'
  config.schedule.time_decay = 0.3
  ours = cnnlab_trajectory(config)
  np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
  # optax's convention rescales the whole velocity: another trajectory here.
  config.optimizer.momentum_style = 'optax'
  assert np.abs(cnnlab_trajectory(config) - expected).max() > 1e-3
  config.optimizer.momentum_style = 'pytorch'
  with pytest.raises(UserError, match=r"momentum_style='pytorch' is not one of"):
    optimizers.create_optimizer(config, 10, 100)
