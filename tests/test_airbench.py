"""The airbench recipe's pieces, each against an independent statement of it.

The whitening conv against a covariance computed with numpy's own sliding
windows; airbench_sgd against a transcription of torch.optim.SGD with
airbench's parameter groups; the triangle schedule and the lookahead EMA
against airbench's formulas; airbench TTA against views built with np.pad;
and the training loop's freezing, lookahead resume and val_fraction=0.
"""
import json
import math
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnlab import steps

from cnnlab import augment
from cnnlab.core import checkpoints
from cnnlab.core import history
from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import models
from cnnlab import optimizers
from cnnlab import schedules
from cnnlab import train
from cnnlab import tta
from configs import airbench
from conftest import make_image_folder
from conftest import with_overrides


def smooth_images(n=64, size=12, seed=0):
  """Normalized images with strongly correlated neighbouring pixels and channels."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, size + 1, size + 1, 1))
  x = x[:, 1:, 1:] + x[:, :-1, :-1] + 0.5 * x[:, 1:, :-1]  # spatial correlation
  mix = np.array([[1.0, 0.8, 0.6]])
  return (x * mix + 0.2 * rng.normal(size=(n, size, size, 3))).astype(np.float32)


def test_whitening_conv_whitens_its_fitting_patches():
  images = smooth_images()
  kernel = models.whitening_kernel(images, size=2, eps=5e-4)
  assert kernel.shape == (2, 2, 3, 24)
  conv = models.WhiteningConv(2)
  params = conv.init(jax.random.key(0), jnp.asarray(images))['params']
  params = dict(params, kernel=jnp.asarray(kernel))
  out = np.asarray(conv.apply({'params': params}, jnp.asarray(images)), np.float64)
  assert out.shape == (64, 11, 11, 24)
  # Independent patches: numpy's sliding windows, flattened (dy, dx, c).
  windows = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
  flat = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12).astype(np.float64)
  covariance = flat.T @ flat / len(flat)
  eigenvalues = np.linalg.eigvalsh(covariance)[::-1]
  y = out.reshape(-1, 24)
  # The first 12 channels: covariance diag(lambda / (lambda + eps)), ~ identity.
  whitened = y[:, :12].T @ y[:, :12] / len(y)
  np.testing.assert_allclose(whitened, np.diag(eigenvalues / (eigenvalues + 5e-4)), atol=1e-4)
  assert np.abs(whitened - np.eye(12)).max() < 0.05
  np.testing.assert_allclose(y[:, 12:], -y[:, :12], atol=1e-5)  # then their negatives
  # Largest eigenvalue first: the channel of the largest direction comes first.
  np.testing.assert_allclose(flat @ kernel.reshape(12, 24)[:, 0],
                             y[:, 0], rtol=1e-4, atol=1e-4)


def test_parameter_count_and_dirac_init():
  model = models.create_model('airbench', 10)
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
  count = lambda t: sum(x.size for x in jax.tree_util.tree_leaves(t))
  assert count(variables['params']) == 1_971_640
  assert variables['params']['ConvGroup_1']['Conv_0']['kernel'].shape == (3, 3, 64, 256)
  group = models.ConvGroup(256).init(jax.random.key(0), jnp.zeros((1, 8, 8, 64)), train=False)
  kernel = group['params']['Conv_0']['kernel']  # a 64 -> 256 conv as the model builds it
  np.testing.assert_array_equal(kernel[:, :, :, :64], np.eye(64)[None, None] * (
      np.arange(9).reshape(3, 3) == 4)[:, :, None, None])
  assert np.abs(kernel[:, :, :, 64:]).max() <= 1 / math.sqrt(9 * 64)
  small = models.create_model('airbench', 10, widths=(32, 64, 128))
  assert count(jax.eval_shape(lambda: small.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)),
                                                 train=False))['params']) == 294_648
  with pytest.raises(Exception, match='does not take'):
    models.create_model('vgg', 10, widths=(1, 2))


def torch_sgd_transcription(params, grads_per_step, multipliers, *, lr, wd, momentum,
                            batch, bias_scale, norm_bias):
  """torch.optim.SGD(nesterov=True) as airbench94 configures it, in numpy.

  Per group: lr_g = lr / k (x bias_scale for BN biases), weight_decay = wd_abs / lr_g
  with k = 1024 (1 + 1 / (1 - momentum)), wd_abs = wd * batch / k; the loss is
  summed over the batch (grad_sum = batch * mean-loss grad).
  """
  k = 1024 * (1 + 1 / (1 - momentum))
  p = {n: np.array(v, np.float64) for n, v in params.items()}
  buf = {}
  for grads, mult in zip(grads_per_step, multipliers):
    for n in p:
      lr_g = lr / k * (bias_scale if norm_bias(n) else 1.0)
      d = batch * np.asarray(grads[n], np.float64) + (wd * batch / k) / lr_g * p[n]
      buf[n] = d if n not in buf else momentum * buf[n] + d
      d = d + momentum * buf[n]
      p[n] = p[n] - lr_g * mult * d
  return p


def test_airbench_sgd_equals_torch_sgd_with_airbench_groups():
  config = airbench.get_config()
  config.batch_size = 512
  rng = np.random.default_rng(0)
  params = {'Conv_0': {'kernel': rng.normal(size=(3, 3, 2, 4))},
            'BatchNorm_0': {'bias': rng.normal(size=4)},
            'Dense_0': {'kernel': rng.normal(size=(4, 3))}}
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params)
  num_steps, steps_per_epoch = 6, 2
  tx = optimizers.create_optimizer(config, steps_per_epoch, num_steps)
  schedule = schedules.create_schedule(config, steps_per_epoch, num_steps)
  grads = [jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
           for _ in range(num_steps)]
  state, p = tx.init(params), params
  for g in grads:
    updates, state = tx.update(g, state, p)
    p = optax.apply_updates(p, updates)
  name = lambda path: optimizers.path_name(path)
  flat = lambda tree: {name(k): v for k, v in jax.tree_util.tree_leaves_with_path(tree)}
  expected = torch_sgd_transcription(
      flat(params), [flat(g) for g in grads],
      [float(schedule(i)) / config.optimizer.lr for i in range(num_steps)],
      lr=11.5, wd=0.0153, momentum=0.85, batch=512, bias_scale=64.0,
      norm_bias=lambda n: n.startswith('BatchNorm'))
  for n, value in flat(p).items():
    np.testing.assert_allclose(value, expected[n], rtol=2e-5, atol=2e-6, err_msg=n)


def test_train_for_steps_stops_only_the_matched_params():
  params = {'whiten': {'bias': jnp.zeros(2)}, 'Dense_0': {'kernel': jnp.zeros((2, 2))}}
  tx = optax.chain(optax.sgd(1.0), optimizers.train_for_steps(2, r'^whiten/bias$'))
  state = tx.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  seen = []
  for _ in range(4):
    updates, state = tx.update(grads, state, params)
    seen.append((float(updates['whiten']['bias'][0]), float(updates['Dense_0']['kernel'][0, 0])))
  assert seen == [(-1.0, -1.0), (-1.0, -1.0), (0.0, -1.0), (0.0, -1.0)]


def airbench_get_lr(step, total):
  """airbench94's get_lr, transcribed."""
  warmup_steps = int(total * 0.23)
  warmdown_steps = total - warmup_steps
  if step < warmup_steps:
    frac = step / warmup_steps
    return 0.2 * (1 - frac) + 1.0 * frac
  frac = (step - warmup_steps) / warmdown_steps
  return 1.0 * (1 - frac) + 0.07 * frac


def test_triangle_schedule_is_airbench_get_lr():
  schedule = jax.jit(schedules.triangle(11.5, 426, 0.23, 0.2, 0.07))
  for step in (0, 1, 50, 97, 98, 99, 200, 425, 426):
    assert float(schedule(step)) == pytest.approx(11.5 * airbench_get_lr(step, 426), rel=1e-6)
  assert float(schedule(97)) == pytest.approx(11.5)  # int(426 * 0.23) = 97: the peak
  assert float(schedule(0)) == pytest.approx(0.2 * 11.5)
  assert float(schedule(426)) == pytest.approx(0.07 * 11.5)


def test_lookahead_update_is_its_formula():
  s = lookahead.Settings(every_steps=5, start_step=0, num_train_steps=20, decay_base=0.95,
                         decay_power=3.0)
  ema = {'params': {'w': jnp.array([1.0, 2.0])}, 'batch_stats': {'m': jnp.array([4.0])}}
  params, stats = {'w': jnp.array([3.0, -2.0])}, {'m': jnp.array([0.0])}
  new_ema, new_params, new_stats = lookahead.update(s, jnp.int32(10), ema, params, stats)
  d = 0.95 ** 5 * (10 / 20) ** 3
  np.testing.assert_allclose(new_ema['params']['w'], d * np.array([1, 2]) + (1 - d) * np.array([3, -2]),
                             rtol=1e-6)
  np.testing.assert_allclose(new_ema['batch_stats']['m'], [d * 4.0], rtol=1e-6)
  np.testing.assert_array_equal(new_params['w'], new_ema['params']['w'])  # copied back
  np.testing.assert_array_equal(new_stats['m'], new_ema['batch_stats']['m'])
  # Not an update step: nothing moves.
  same = lookahead.update(s, jnp.int32(11), ema, params, stats)
  np.testing.assert_array_equal(same[0]['params']['w'], ema['params']['w'])
  np.testing.assert_array_equal(same[1]['w'], params['w'])
  # The last step: the net becomes the EMA as it stands.
  last = lookahead.update(s, jnp.int32(21 - 2), ema, params, stats)  # 19: neither
  np.testing.assert_array_equal(last[1]['w'], params['w'])
  end = lookahead.update(s, jnp.int32(20), ema, params, stats)
  d20 = 0.95 ** 5
  np.testing.assert_allclose(end[1]['w'], d20 * np.array([1, 2]) + (1 - d20) * np.array([3, -2]),
                             rtol=1e-6)
  # A weight equal to its EMA stays bit for bit (a frozen parameter).
  frozen = {'w': ema['params']['w']}
  kept = lookahead.update(s, jnp.int32(15), ema, frozen, stats)
  np.testing.assert_array_equal(kept[1]['w'], frozen['w'])
  # Before start_step the EMA is the weights.
  late = s._replace(start_step=12)
  before = lookahead.update(late, jnp.int32(10), ema, params, stats)
  np.testing.assert_array_equal(before[0]['params']['w'], params['w'])
  np.testing.assert_array_equal(before[1]['w'], params['w'])


def test_tta_weights_and_airbench_views():
  for name in tta.TTAS.names():
    assert sum(tta.get(name).weights) == pytest.approx(1.0)
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
  padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='reflect')
  views = [np.asarray(v(jnp.asarray(images))) for v in tta.views('airbench')]
  expected = [images, images[:, :, ::-1], padded[:, :6, :5], padded[:, :6, :5][:, :, ::-1],
              padded[:, 2:, 2:], padded[:, 2:, 2:][:, :, ::-1]]
  for got, want in zip(views, expected):
    np.testing.assert_array_equal(got, want)
  # Combined as airbench does: 0.5 mirror(x) + 0.5 mean(mirror(t1), mirror(t2)).
  logits = [jnp.asarray(rng.normal(size=(2, 4)), jnp.float32) for _ in range(6)]
  mirror = lambda a, b: 0.5 * a + 0.5 * b
  want = 0.5 * mirror(logits[0], logits[1]) + 0.5 * 0.5 * (
      mirror(logits[2], logits[3]) + mirror(logits[4], logits[5]))
  np.testing.assert_allclose(tta.combine(tta.get('airbench'), logits), want, rtol=1e-6)
  # flip averages probabilities.
  probs = jax.nn.softmax(tta.combine(tta.get('flip'), logits[:2]))
  np.testing.assert_allclose(probs, 0.5 * jax.nn.softmax(logits[0]) + 0.5 * jax.nn.softmax(
      logits[1]), rtol=1e-5)


def tiny_airbench(data_dir, tmp_path, **overrides):
  """configs/airbench.py at 16x16, widths (8, 16), a few steps."""
  config = airbench.get_config()
  config.data.dir = str(data_dir)
  config.data.cache_dir = str(tmp_path / 'cache')
  config.data.val_fraction = 0.25
  config.model.widths = (8, 16)  # 16 -> 15 -> 7 -> 3 -> max pool 3 -> 1
  config.batch_size = 9
  config.eval_batch_size = 9
  config.num_epochs = 3.0
  config.train_only_first_epochs = 1.0
  config.lookahead.every_steps = 2
  config.lookahead.start_epochs = 0.0
  config.log_every_steps = 1
  config.max_checkpoints_to_keep = 20
  config.report = False
  return with_overrides(config, overrides)


def restore_latest(workdir, step):
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    return ckpts.latest.restore(step)
  finally:
    ckpts.close()


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  return make_image_folder(tmp_path_factory.mktemp('ab') / 'images', per_class=12, size=16)


def test_training_freezes_the_whitening_kernel_and_stops_its_bias(folder, tmp_path):
  # Without lookahead, which would still pull the stopped bias towards its EMA
  # (as in airbench, whose EMA covers every float of the state).
  config = tiny_airbench(folder, tmp_path, **{'lookahead.every_steps': 0})
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  # 27 train images // 9 = 3 steps per epoch; the bias trains for epoch 1 only.
  states = {step: restore_latest(workdir, step) for step in (3, 6, 9)}
  train_ds, _ = input_pipeline.load_splits(config)
  pipeline = augment.create_pipeline(config.augment)
  # The fitted kernel K (first half) satisfies K K^T = (C + eps I)^-1 for the
  # patch covariance C of the normalized training images (invariant to the
  # eigenvectors' signs and rotations within repeated eigenvalues).
  normalized = np.asarray(pipeline.eval(train_ds.images, states[3]['input_stats']), np.float64)
  windows = np.lib.stride_tricks.sliding_window_view(normalized, (2, 2), axis=(1, 2))
  flat = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
  inverse = np.linalg.inv(flat.T @ flat / len(flat) + 5e-4 * np.eye(12))
  for state in states.values():
    kernel = np.asarray(state['params']['whiten']['kernel'], np.float64).reshape(12, 24)
    np.testing.assert_allclose(kernel[:, :12] @ kernel[:, :12].T, inverse,
                               atol=1e-3 * np.abs(inverse).max())
  kernels = [np.asarray(states[s]['params']['whiten']['kernel']) for s in (3, 6, 9)]
  np.testing.assert_array_equal(kernels[0], kernels[2])  # frozen: bit for bit
  bias = [np.asarray(states[s]['params']['whiten']['bias']) for s in (3, 6, 9)]
  assert np.abs(bias[0]).max() > 0  # trained from zeros in epoch 1 ...
  np.testing.assert_array_equal(bias[1], bias[0])  # ... and not after
  np.testing.assert_array_equal(bias[2], bias[0])
  conv = [np.asarray(states[s]['params']['ConvGroup_0']['Conv_0']['kernel']) for s in (3, 9)]
  assert not np.array_equal(conv[0], conv[1])  # the rest keeps training
  records = history.read(workdir)
  assert 'val_accuracy_tta' in records[-1] and 'val_accuracy_tta' not in records[0]


def test_lookahead_run_resumes_bit_for_bit(folder, tmp_path):
  config = tiny_airbench(folder, tmp_path, checkpoint_every_steps=1, num_epochs=2.0)
  full = str(tmp_path / 'full')
  train.train_and_evaluate(config, full)
  # A crash after step 4: a copy of the workdir without anything later.
  part = str(tmp_path / 'part')
  shutil.copytree(full, part)
  for step in range(5, 7):
    shutil.rmtree(os.path.join(part, 'checkpoints', str(step)))
  shutil.rmtree(os.path.join(part, 'best'))
  train.train_and_evaluate(config, part)
  a, b = restore_latest(full, 6), restore_latest(part, 6)
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  assert jax.tree_util.tree_leaves(a['lookahead'])  # the EMA is in the checkpoint
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
  # Every 2 steps the net was set to the EMA; the last step leaves it there.
  for group in ('params', 'batch_stats'):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a['lookahead'][group], a[group])
  records_a, records_b = history.read(full), history.read(part)
  assert [r['step'] for r in records_b] == [3, 6]
  # (The resumed epoch's train_loss averages only the steps run after the resume.)
  for key in ('val_loss', 'val_accuracy', 'val_loss_tta', 'val_accuracy_tta', 'lr'):
    assert records_a[-1][key] == records_b[-1][key], key


def test_val_fraction_zero_trains_and_keeps_the_last_as_best(folder, tmp_path):
  config = tiny_airbench(folder, tmp_path, num_epochs=2.0, report=True)
  config.data.val_fraction = 0.0
  workdir = str(tmp_path / 'all')
  train.train_and_evaluate(config, workdir)
  records = history.read(workdir)
  assert [r['step'] for r in records] == [4, 8]  # 36 images // 9
  assert not any('val_accuracy' in r for r in records)
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    assert ckpts.latest_step() == 8 and ckpts.best_step() == 8
  finally:
    ckpts.close()
  assert os.listdir(os.path.join(workdir, 'report')) == ['curves.png']
  run = inference.load_run(workdir)  # evaluate / predict restore it
  assert run.step == 8
  assert jax.tree_util.tree_leaves(run.state.lookahead)


def test_airbench_muon_step_on_4d_kernels_lowers_the_loss():
  from configs import airbench_muon  # pylint: disable=g-import-not-at-top
  config = airbench_muon.get_config()
  config.batch_size = 8
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), {
      'whiten': {'kernel': rng.normal(size=(2, 2, 3, 24)), 'bias': np.zeros(24)},
      'ConvGroup_0': {'Conv_0': {'kernel': rng.normal(size=(3, 3, 24, 16)) / 15},
                      'BatchNorm_0': {'bias': np.zeros(16)}},
      'Dense_0': {'kernel': rng.normal(size=(16, 10))}})
  labels = jax.tree_util.tree_map_with_path(optimizers._airbench_muon_label, params)  # pylint: disable=protected-access
  assert labels == {'whiten': {'kernel': 'whiten_bias', 'bias': 'whiten_bias'},
                    'ConvGroup_0': {'Conv_0': {'kernel': 'filters'},
                                    'BatchNorm_0': {'bias': 'norm_bias'}},
                    'Dense_0': {'kernel': 'head'}}
  x = jnp.asarray(rng.normal(size=(8, 6, 6, 24)), jnp.float32)
  target = jnp.asarray(rng.normal(size=(8, 10)), jnp.float32)

  def loss_fn(p):
    h = jax.lax.conv_general_dilated(x, p['ConvGroup_0']['Conv_0']['kernel'], (1, 1), 'SAME',
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    h = jnp.mean(jax.nn.relu(h + p['ConvGroup_0']['BatchNorm_0']['bias']), axis=(1, 2))
    return jnp.mean((h @ p['Dense_0']['kernel'] / 16 - target) ** 2)

  tx = optimizers.create_optimizer(config, 1, 20, frozen=r'^whiten/kernel$')
  state, p = tx.init(params), params
  losses = []
  for _ in range(5):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    losses.append(float(loss))
    updates, state = tx.update(grads, state, p)
    kernel = p['ConvGroup_0']['Conv_0']['kernel']
    new = kernel + updates['ConvGroup_0']['Conv_0']['kernel']
    # The step lands on the sphere of radius sqrt(16) plus an orthogonalized
    # Muon update: its singular values near lr (3 Newton-Schulz steps: 0.3-1.7x).
    on_sphere = kernel * 4.0 / jnp.linalg.norm(kernel)
    singular = np.linalg.svd(np.asarray(new - on_sphere).reshape(-1, 16), compute_uv=False)
    lr = optimizers.current_lr(state)
    assert 0.3 * lr < singular.min() and singular.max() < 1.7 * lr, (singular, lr)
    p = optax.apply_updates(p, updates)
  assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.85 * losses[0], losses
  np.testing.assert_array_equal(p['whiten']['kernel'], params['whiten']['kernel'])


def test_airbench_tta_evaluation_equals_weighted_logits_of_its_views(folder, tmp_path):
  config = tiny_airbench(folder, tmp_path, num_epochs=1.0)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  run = inference.load_run(workdir)
  _, val = input_pipeline.load_splits(config)
  result = steps.evaluate(run.state, val, run.mesh, steps.make_eval_fn(run.pipeline, 'airbench'),
                          batch_size=4, with_probabilities=True)
  # By hand: the six views with np.pad, the model applied to each, logits weighted.
  images = val.images
  padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode='reflect')
  h, w = images.shape[1:3]
  views = [images, images[:, :, ::-1], padded[:, :h, :w], padded[:, :h, :w][:, :, ::-1],
           padded[:, 2:, 2:], padded[:, 2:, 2:][:, :, ::-1]]
  weights = [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]
  variables = {'params': run.state.params, 'batch_stats': run.state.batch_stats}
  logits = sum(wt * np.asarray(run.state.apply_fn(
      variables, run.pipeline.eval(v, run.state.input_stats), train=False))
               for wt, v in zip(weights, views))
  expected = np.exp(logits - logits.max(-1, keepdims=True))
  expected /= expected.sum(-1, keepdims=True)
  np.testing.assert_allclose(result['probabilities'], expected, rtol=1e-4, atol=1e-6)
  assert result['accuracy'] == pytest.approx(np.mean(expected.argmax(-1) == val.labels))
  assert result['count'] == len(val.labels) == int(np.sum(result['confusion']))


def test_bfloat16_compute_keeps_batchnorm_and_params_in_float32():
  model = models.create_model('airbench', 10, widths=(8, 16), dtype=jnp.bfloat16)
  x = jnp.asarray(smooth_images(4, 16))
  variables = model.init(jax.random.key(0), x, train=False)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(variables))
  logits, updates = model.apply(variables, x, train=True, mutable=['batch_stats'])
  assert logits.dtype == jnp.float32
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(updates))
  full = models.create_model('airbench', 10, widths=(8, 16)).apply(variables, x, train=False)
  half = model.apply(variables, x, train=False)
  np.testing.assert_allclose(half, full, rtol=0.1, atol=0.05)  # bf16: ~3 digits
  jaxpr = str(jax.make_jaxpr(lambda v: model.apply(v, x, train=False))(variables))
  assert 'bf16' in jaxpr


def test_fashion_fast_trains_on_the_official_files_and_reads_the_test_split_once(tmp_path):
  from configs import fashion_fast  # pylint: disable=g-import-not-at-top
  from conftest import random_idx_split, write_idx_folder  # pylint: disable=g-import-not-at-top
  config = fashion_fast.get_config()
  assert (config.data.name, config.data.dir, config.model.name) == ('fashion_mnist', '', 'airbench')
  assert (tuple(config.model.widths), config.batch_size, config.num_epochs, config.tta) == (
      (32, 64, 128), 512, 6.5, 'airbench')
  # 28 -> whitening 27 -> 13 -> 6 -> 3 -> max pool 3 -> 1, on the idx files' 28x28x1 images.
  folder = write_idx_folder(tmp_path / 'fm', random_idx_split(80, 0), random_idx_split(20, 1))
  config.data.dir = folder
  config.batch_size = config.eval_batch_size = 16
  config.num_epochs = 1.0
  config.lookahead.start_epochs = 0.0
  config.report = False
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'eval_test.json')) as f:
    test = json.load(f)
  assert test['count'] == 20 and test['tta'] == 'airbench' and test['split'] == 'test'
  assert history.read(workdir)[-1]['step'] == 70 // 16  # 80 - 10 val (one per class), batch 16
