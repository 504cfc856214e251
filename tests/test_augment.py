"""Known-answer tests of cnnlab.augment against numpy, scipy and Keras' formulas.

Small images and batches only: the whole file runs in well under a minute on
two CPU cores.
"""
import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi

from cnnlab import augment
from cnnlab.core.errors import UserError

SEED_003 = 'flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)'


def _images(shape=(2, 8, 8, 3), seed=0):
  return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


def _train(spec, images, seed=0, stats=None):
  pipeline = augment.create_pipeline(spec)
  return np.asarray(pipeline.train(jax.random.key(seed), images, stats or {}))


def _keras_matrix(theta, tx, ty, shear, zx, zy, size):
  """Keras' apply_affine_transform matrix (keras/src/legacy/preprocessing/image.py).

  Square images only: Keras centres both axes on the height.
  """
  t, s = np.deg2rad(theta), np.deg2rad(shear)
  rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
  shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
  shear_m = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
  zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
  matrix = rotation @ shift @ shear_m @ zoom
  o = size / 2 - 0.5
  offset = np.array([[1, 0, o], [0, 1, o], [0, 0, 1]])
  reset = np.array([[1, 0, -o], [0, 1, -o], [0, 0, 1]])
  matrix = offset @ matrix @ reset
  matrix[:, [0, 1]] = matrix[:, [1, 0]]
  matrix[[0, 1]] = matrix[[1, 0]]
  return matrix


# ---- identities ----------------------------------------------------------------
def test_empty_spec_is_scaling_only():
  images = _images()
  pipeline = augment.create_pipeline('')
  expected = images.astype(np.float32) / 255.0
  trained = pipeline.train(jax.random.key(0), images, {})
  np.testing.assert_array_equal(trained, pipeline.eval(images, {}))
  np.testing.assert_allclose(trained, expected, rtol=1e-6)  # XLA may multiply by 1/255
  assert pipeline.fit(images) == {} and pipeline.init_stats((8, 8, 3)) == {}


def test_flips():
  images = _images()
  x = images / np.float32(255)
  close = functools.partial(np.testing.assert_allclose, rtol=1e-6)
  close(_train('flip_lr(p=1)', images), x[:, :, ::-1])
  close(_train('flip_ud(p=1)', images), x[:, ::-1])
  close(_train('flip_lr(p=1)|flip_lr(p=1)|flip_ud(1.0)|flip_ud(1.0)', images), x)
  close(_train('flip_lr(p=0)', images), x)


@pytest.mark.parametrize('spec', [
    'translate(0)', 'zoom(0)', 'rotate(0)', 'elastic(alpha=0, sigma=3)',
    'shear(0, fill_mode="constant")|pad_crop(0)|cutout(0)|brightness(0)|contrast(0)|'
    'channel_shift(0)'])
def test_zero_magnitude_is_identity(spec):
  images = _images((2, 7, 7, 3))
  np.testing.assert_allclose(_train(spec, images), images / 255.0, atol=1e-6)


# ---- affine ----------------------------------------------------------------------
@pytest.mark.parametrize('size', [8, 9])
def test_rotate_90_nearest_is_rot90(size):
  # Keras' positive theta turns counter-clockwise, like np.rot90.
  x = np.random.RandomState(1).rand(size, size, 2).astype(np.float32)
  for fill in ('nearest', 'constant'):
    out = augment.apply_affine_transform(x, theta=90, order=0, fill_mode=fill)
    np.testing.assert_array_equal(out, np.rot90(x))
  out = augment.apply_affine_transform(x, theta=90, order=1)
  np.testing.assert_allclose(out, np.rot90(x), atol=1e-5)
  # The random op with a degenerate range goes the same way.
  pipeline_out = _train('rotate((90, 90), order=0)', (x[None] * 255).astype(np.uint8))
  np.testing.assert_allclose(pipeline_out[0], np.rot90((x * 255).astype(np.uint8) / 255.0),
                             rtol=1e-6)


def test_integer_shift_is_roll_plus_fill():
  x = np.random.RandomState(2).rand(6, 9, 3).astype(np.float32)
  out = np.asarray(augment.apply_affine_transform(x, tx=2, ty=-3, fill_mode='constant', cval=0.5))
  # tx=2 reads two columns to the right: content moves left; ty=-3 moves it down.
  expected = np.roll(np.roll(x, -2, axis=1), 3, axis=0)
  expected[:, -2:] = 0.5
  expected[:3] = 0.5
  np.testing.assert_allclose(out, expected, atol=1e-6)
  out = np.asarray(augment.apply_affine_transform(x, tx=2, fill_mode='wrap'))
  assert np.abs(out - np.roll(x, -2, axis=1)).max() > 0.1  # scipy 'wrap' is not np.roll...
  np.testing.assert_allclose(out[:, :-2], x[:, 2:], atol=1e-6)  # ...inside it is a shift


def test_random_whole_pixel_translate():
  # width (3,): one of +-3 columns, height 0: rows untouched (Keras' documented axes).
  images = _images((6, 8, 8, 1), seed=3)
  out = _train('translate((3,), 0, fill_mode="constant", cval=0.25)', images)
  x = images / np.float32(255)
  seen = set()
  for o, xi in zip(out, x):
    candidates = {}
    for s in (3, -3):
      c = np.roll(xi, -s, axis=1)
      c[:, -s:] = 0.25 if s > 0 else c[:, -s:]
      if s < 0:
        c[:, :-s] = 0.25
      candidates[s] = c
    match = [s for s, c in candidates.items() if np.allclose(o, c, atol=1e-6)]
    assert len(match) == 1
    seen.add(match[0])
  assert seen == {3, -3}


@pytest.mark.parametrize('fill_mode', ['nearest', 'reflect', 'constant', 'wrap', 'mirror'])
def test_affine_matches_keras_matrix_in_scipy(fill_mode):
  size = 12
  x = np.random.RandomState(4).rand(size, size, 2).astype(np.float32)
  params = dict(theta=17.0, tx=1.3, ty=-2.2, shear=9.0, zx=0.9, zy=1.15)
  matrix = _keras_matrix(size=size, **params)
  expected = np.stack([
      ndi.affine_transform(x[..., c].astype(np.float64), matrix[:2, :2], matrix[:2, 2],
                           order=1, mode=fill_mode, cval=0.3) for c in range(2)], -1)
  out = augment.apply_affine_transform(x, **params, fill_mode=fill_mode, cval=0.3)
  np.testing.assert_allclose(out, expected, atol=1e-4)


@pytest.mark.parametrize('mode', ['nearest', 'reflect', 'constant', 'wrap', 'mirror'])
@pytest.mark.parametrize('order', [0, 1])
def test_sampling_modes_match_scipy(mode, order):
  rng = np.random.RandomState(5)
  image = rng.rand(5, 7, 1).astype(np.float32)
  rows = rng.uniform(-6, 11, (9, 9)).astype(np.float32)
  cols = rng.uniform(-6, 13, (9, 9)).astype(np.float32)
  expected = ndi.map_coordinates(image[..., 0].astype(np.float64), [rows, cols], order=order,
                                 mode=mode, cval=-1.0)
  sample = jax.jit(functools.partial(augment._sample, order=order, mode=mode, cval=-1.0))
  out = sample(image, rows, cols)
  np.testing.assert_allclose(out[..., 0], expected, atol=1e-5)


# ---- elastic ---------------------------------------------------------------------
@pytest.mark.parametrize('mode', ['reflect', 'constant', 'nearest', 'mirror', 'wrap'])
def test_gaussian_matrix_is_gaussian_filter1d(mode):
  v = np.random.RandomState(6).rand(6, 5)
  for sigma in (0.7, 4.0):  # 4.0: the kernel is wider than the image
    g = augment.gaussian_matrix(6, sigma, mode)
    np.testing.assert_allclose(g @ v, ndi.gaussian_filter1d(v, sigma, axis=0, mode=mode),
                               atol=1e-6)


@pytest.mark.parametrize('filter_mode', ['reflect', 'constant'])
def test_elastic_matches_scipy_reference(filter_mode):
  rng = np.random.RandomState(7)
  image = rng.rand(16, 14, 2).astype(np.float32)
  noise = rng.uniform(-1, 1, (2, 16, 14)).astype(np.float32)
  alpha, sigma = 6.0, 2.0
  # Seed 003 / Simard: smooth uniform fields, scale, resample bilinear with reflect.
  dy = ndi.gaussian_filter(noise[0].astype(np.float64), sigma, mode=filter_mode) * alpha
  dx = ndi.gaussian_filter(noise[1].astype(np.float64), sigma, mode=filter_mode) * alpha
  r, c = np.meshgrid(np.arange(16), np.arange(14), indexing='ij')
  expected = np.stack([ndi.map_coordinates(image[..., k].astype(np.float64), [r + dy, c + dx],
                                           order=1, mode='reflect') for k in range(2)], -1)
  out = augment.elastic_warp(image, noise, alpha, sigma, filter_mode=filter_mode)
  np.testing.assert_allclose(out, expected, atol=1e-4)


# ---- the random pipeline -----------------------------------------------------------
def test_jit_equals_eager():
  # Eager dispatch compiles every primitive on its own: a short spec, small images.
  images = _images((2, 10, 10, 1), seed=8)
  pipeline = augment.create_pipeline('flip_lr|translate(0.1)|rotate(8)|elastic(alpha=8, sigma=2)')
  eager = pipeline.train(jax.random.key(1), images, {})
  jitted = jax.jit(pipeline.train)(jax.random.key(1), images, {})
  np.testing.assert_allclose(eager, jitted, atol=1e-5)


def test_same_key_same_output():
  images = _images((3, 28, 28, 1), seed=8)
  train = jax.jit(augment.create_pipeline(SEED_003 + '|cutout(6)|brightness(0.2)').train)
  first = np.asarray(train(jax.random.key(1), images, {}))
  np.testing.assert_array_equal(first, train(jax.random.key(1), images, {}))
  other = np.asarray(train(jax.random.key(2), images, {}))
  assert np.abs(other - first).max() > 0.1
  # Examples of one batch get different draws.
  out = np.asarray(train(jax.random.key(1), np.repeat(images[:1], 3, axis=0), {}))
  assert np.abs(out[0] - out[1]).max() > 0.1


@pytest.mark.parametrize('shape', [(2, 28, 28, 1), (2, 32, 32, 3)])
def test_dtype_range_and_shape(shape):
  images = _images(shape, seed=9)
  spec = SEED_003 + '|flip_ud|pad_crop(4)|cutout(8)|contrast(0.3)|channel_shift(20)'
  out = jax.jit(augment.create_pipeline(spec).train)(jax.random.key(0), images, {})
  assert out.shape == shape and out.dtype == jnp.float32
  assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_pad_crop_is_a_window_of_the_padded_image():
  images = _images((4, 6, 6, 1), seed=10)
  for mode, np_mode in (('reflect', 'symmetric'), ('mirror', 'reflect'), ('constant', 'constant')):
    out = _train(f'pad_crop(2, fill_mode="{mode}")', images, seed=1)
    for o, x in zip(out, images / np.float32(255)):
      padded = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode=np_mode)
      windows = [padded[i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
      assert any(np.allclose(o, w, rtol=1e-6, atol=0) for w in windows), mode


def test_cutout_blanks_one_square():
  images = np.full((4, 10, 10, 1), 200, np.uint8)
  out = _train('cutout(4)', images)
  for o in out:
    blank = o[..., 0] == 0
    assert 0 < blank.sum() <= 16
    rows, cols = np.nonzero(blank)
    assert rows.max() - rows.min() < 4 and cols.max() - cols.min() < 4
    np.testing.assert_allclose(o[~blank], 200 / 255.0)


def test_alternating_flip():
  images = _images((6, 4, 4, 1), seed=14)
  x = images / np.float32(255)
  pipeline = augment.create_pipeline('flip_lr(alternate=True)')
  ids = np.arange(100, 106)
  flipped = []
  for epoch in (0, 1, 2):
    out = np.asarray(pipeline.train(jax.random.key(epoch), images, {}, example_ids=ids,
                                    epoch=epoch))
    flips = np.array([np.allclose(o, xi[:, ::-1], rtol=1e-6) for o, xi in zip(out, x)])
    keeps = np.array([np.allclose(o, xi, rtol=1e-6) for o, xi in zip(out, x)])
    assert np.all(flips ^ keeps)
    flipped.append(flips)
  np.testing.assert_array_equal(flipped[0], ~flipped[1])  # each image both ways
  np.testing.assert_array_equal(flipped[0], flipped[2])  # whatever the step key
  assert 0 < flipped[0].sum() < 6
  with pytest.raises(UserError, match='example ids'):
    pipeline.train(jax.random.key(0), images, {})


def _draws_on_all_devices():
  """Augmented draws of a batch sharded over every device of this process."""
  from jax.sharding import Mesh, NamedSharding, PartitionSpec  # pylint: disable=g-import-not-at-top
  images = np.random.default_rng(0).integers(0, 256, (8, 12, 12, 3), dtype=np.uint8)
  pipeline = augment.create_pipeline(
      'flip_lr|translate(0.1)|rotate(8)|elastic(alpha=8, sigma=2)|cutout(4)|featurewise_center')
  mesh = Mesh(np.array(jax.devices()), ('data',))
  x = jax.device_put(images, NamedSharding(mesh, PartitionSpec('data')))
  return np.asarray(jax.jit(pipeline.train)(jax.random.key(3), x, pipeline.fit(images)))


_CHILD = """
import json, jax
from test_augment import _draws_on_all_devices
print(json.dumps({'devices': jax.device_count(), 'out': _draws_on_all_devices().tolist()}))
"""


def test_one_device_equals_four_fake_devices():
  # The draws must not depend on how the batch is split over devices: this
  # process against a child with 4 fake CPU devices.
  tests_dir = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(tests_dir), tests_dir]),
             JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=4')
  run = subprocess.run([sys.executable, '-c', _CHILD], cwd=tests_dir, env=env,
                       capture_output=True, text=True, timeout=120)
  assert run.returncode == 0, run.stderr[-2000:]
  four = json.loads(run.stdout.strip().splitlines()[-1])
  assert four['devices'] == 4
  np.testing.assert_allclose(_draws_on_all_devices(), four['out'], atol=1e-5)


# ---- normalization ---------------------------------------------------------------
def test_samplewise_matches_keras_formula():
  images = _images((3, 5, 5, 3), seed=11)
  x = images / np.float32(255)
  pipeline = augment.create_pipeline('samplewise_center|samplewise_std')
  centered = x - x.mean(axis=(1, 2, 3), keepdims=True)
  expected = centered / (centered.std(axis=(1, 2, 3), keepdims=True) + 1e-6)
  np.testing.assert_allclose(pipeline.eval(images, {}), expected, atol=1e-5)
  np.testing.assert_allclose(pipeline.train(jax.random.key(0), images, {}), expected, atol=1e-5)


def test_featurewise_fit_matches_numpy(monkeypatch):
  monkeypatch.setattr(augment, 'FIT_CHUNK', 7)  # several chunks
  images = _images((20, 4, 4, 3), seed=12)
  x = images.astype(np.float64) / 255
  pipeline = augment.create_pipeline('flip_lr|featurewise_center|featurewise_std')
  stats = pipeline.fit(images)
  mean = x.mean(axis=(0, 1, 2))
  std = (x - mean).std(axis=(0, 1, 2))
  np.testing.assert_allclose(stats['featurewise_center']['mean'].ravel(), mean, rtol=1e-6)
  np.testing.assert_allclose(stats['featurewise_std']['std'].ravel(), std, rtol=1e-5)
  expected = (x - mean) / (std + 1e-6)
  np.testing.assert_allclose(pipeline.eval(images, stats), expected, atol=1e-5)
  template = pipeline.init_stats((4, 4, 3))
  assert jax.tree.structure(template) == jax.tree.structure(stats)
  assert jax.tree.map(lambda a: (a.shape, a.dtype), template) == jax.tree.map(
      lambda a: (a.shape, a.dtype), stats)


@pytest.mark.parametrize('count', [60, 12])  # N > D (eigh of X^T X) and N <= D (SVD)
def test_zca_matches_keras_svd(count, monkeypatch):
  monkeypatch.setattr(augment, 'FIT_CHUNK', 25)
  images = _images((count, 4, 4, 2), seed=13)
  pipeline = augment.create_pipeline('zca(epsilon=1e-3)')
  stats = pipeline.fit(images)
  # Keras' fit: per-channel centering, then the SVD of the flattened data.
  x = images.astype(np.float64) / 255
  x = x - x.mean(axis=(0, 1, 2))
  flat = x.reshape(count, -1)
  u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
  matrix = (u * (np.sqrt(count) / (s + 1e-3))) @ u.T
  np.testing.assert_allclose(stats['zca']['matrix'], matrix, atol=2e-4 * np.abs(matrix).max())
  white = np.asarray(pipeline.eval(images, stats)).reshape(count, -1)
  np.testing.assert_allclose(white, flat @ matrix, atol=2e-4 * np.abs(flat @ matrix).max())
  if count > 32:  # whitened: identity covariance
    np.testing.assert_allclose(white.T @ white / count, np.eye(32), atol=1e-2)
  assert jax.tree.map(np.shape, pipeline.init_stats((4, 4, 2))) == jax.tree.map(np.shape, stats)


def test_zca_refuses_huge_images():
  with pytest.raises(UserError, match='featurewise_center'):
    augment.create_pipeline('zca').init_stats((224, 224, 3))


def test_fitted_op_without_stats_is_an_error():
  pipeline = augment.create_pipeline('featurewise_center')
  with pytest.raises(UserError, match='fit'):
    pipeline.eval(_images(), {})


# ---- the mini-language ---------------------------------------------------------------
def test_parser_arguments_and_hashing():
  pipeline = augment.create_pipeline(
      "flip_lr | translate(0.1, height=[2, 4]) | elastic(alpha=(8, 34), sigma=4) | zca")
  again = augment.create_pipeline(
      'flip_lr|translate(0.1,height=(2,4))|elastic(alpha=(8,34),sigma=4)|zca')
  assert (pipeline.stages, pipeline.normalizers) == (again.stages, again.normalizers)
  # A static jit argument: equal specs give equal, equally hashed pipelines.
  same = augment.create_pipeline(pipeline.spec)
  assert same == pipeline and hash(same) == hash(pipeline)
  assert hash((pipeline.stages, pipeline.normalizers)) == hash((again.stages, again.normalizers))
  assert augment.create_pipeline('flip_lr|zca') != pipeline
  stage = pipeline.stages[1]
  assert stage.ops[0] == augment.Translate(0.1, (2, 4))
  # A static argument of jit, as train.py binds it.
  step = jax.jit(functools.partial(lambda x, pipeline: pipeline.eval(x, {}) * 2,
                                   pipeline=augment.create_pipeline('flip_lr')))
  np.testing.assert_allclose(step(np.full((1, 2, 2, 1), 255, np.uint8)), 2.0)


@pytest.mark.parametrize('spec, message', [
    ('flip_lr|rotat(8)', "Did you mean 'rotate'"),
    ('flip_lr|rotat(8)', 'Known augmentation ops: brightness'),
    ('rotate(8', 'Bad syntax'),
    ('rotate 8', 'Known augmentation ops'),
    ('rotate(x)', 'literals'),
    ('rotate(8, foo=1)', "unexpected keyword argument 'foo'"),
    ('flip_lr||rotate(8)', 'Empty item'),
    ('zoom(1.5)', 'positive'),
    ('flip_lr(p=2)', 'p must be in'),
    ('rotate(8, fill_mode="reflec")', 'fill_mode must be one of'),
    ('rotate(8, fill_mode="reflect")|zoom(0.1, fill_mode="constant")', 'set it once'),
    ('featurewise_center|flip_lr', 'normalization ops run last'),
    ('featurewise_std|featurewise_std', 'twice'),
])
def test_parser_errors(spec, message):
  with pytest.raises(UserError, match=message.replace('(', r'\(')):
    augment.create_pipeline(spec)


def test_describe_ops_lists_every_op():
  text = augment.describe_ops()
  for name in augment.OPS.names():
    assert f'\n{name}(' in '\n' + text
  assert "elastic(alpha=34.0, sigma=4.0, filter_mode='reflect'" in text


def test_affine_ops_fuse_into_one_stage():
  pipeline = augment.create_pipeline(SEED_003)
  kinds = [type(s).__name__ for s in pipeline.stages]
  assert kinds == ['FlipLR', '_AffineStage', 'Elastic']
  assert [op.name for op in pipeline.stages[1].ops] == ['translate', 'zoom', 'rotate', 'shear']


# ---- the preview CLI ------------------------------------------------------------------
def test_preview_writes_a_grid(image_folder, tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from cnnlab import augment_preview  # pylint: disable=g-import-not-at-top
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top
  config = tiny_config(image_folder, tmp_path,
                       augment='flip_lr|rotate(20)|elastic(alpha=8, sigma=3)|featurewise_center')
  out = augment_preview.write_preview(config, str(tmp_path / 'grid.png'), num_images=3,
                                      num_draws=2, normalize=False)
  with Image.open(out) as png:
    assert png.size[0] > 100 and png.size[1] > 100
  picked = augment_preview.pick_examples(np.array([0, 0, 1, 1, 2, 2]), 4, seed=0)
  assert sorted(np.array([0, 0, 1, 1, 2, 2])[picked][:3]) == [0, 1, 2] and len(set(picked)) == 4


# ---- draw ranges -------------------------------------------------------------------------
def _pipeline_uniforms(pipeline, image_shape, num_keys=100, batch=128):
  """The [num_keys * batch, n] uniforms Pipeline.train draws for batches under many keys."""
  n = pipeline.uniforms_for(image_shape)
  keys = jax.random.split(jax.random.key(0), num_keys)
  u = jax.vmap(lambda k: jax.random.uniform(k, (batch, n), jnp.float32))(keys)
  return u.reshape(-1, n)


@pytest.mark.parametrize('spec,lo,hi', [('zoom(0.2)', 0.8, 1.2), ('zoom((0.5, 0.9))', 0.5, 0.9),
                                        ('zoom(0.3, keep_aspect=True)', 0.7, 1.3)])
def test_zoom_matrix_scales_within_the_range(spec, lo, hi):
  # Keras zoom_range z: zx, zy uniform in [1 - z, 1 + z] (or the pair itself),
  # independently unless keep_aspect; read off the matrix the fused stage builds.
  pipeline = augment.create_pipeline(spec)
  stage = pipeline.stages[0]
  u = _pipeline_uniforms(pipeline, (8, 8, 1))
  matrices = np.asarray(jax.jit(jax.vmap(lambda ui: stage.matrix(ui, 8, 8)))(u))
  zy, zx = matrices[:, 0, 0], matrices[:, 1, 1]
  off_diagonal = matrices.copy()
  off_diagonal[:, [0, 1, 2], [0, 1, 2]] = 0
  assert np.all(off_diagonal == 0) and np.all(matrices[:, 2, 2] == 1)  # a pure scaling
  width = hi - lo
  for z in (zx, zy):
    assert lo <= z.min() and z.max() <= hi
    assert z.min() < lo + 0.01 * width and z.max() > hi - 0.01 * width  # fills the range
    assert abs(z.mean() - (lo + hi) / 2) < 0.02 * width  # uniformly
  if 'keep_aspect' in spec:
    np.testing.assert_array_equal(zx, zy)
  else:
    assert abs(np.corrcoef(zx, zy)[0, 1]) < 0.05


def _train_and_its_uniforms(pipeline, images, rng):
  """Pipeline.train's output and the [batch, n] uniforms it drew from `rng`."""
  out = np.asarray(pipeline.train(rng, images, {}))
  shape = (len(images), pipeline.uniforms_for(images.shape[1:]))
  return out, jax.random.uniform(rng, shape, jnp.float32)


def test_zoom_draw_is_the_matrix_the_image_gets():
  # Pipeline.train's output is scipy's affine_transform with the drawn matrix.
  pipeline = augment.create_pipeline('zoom(0.4)')
  images = _images((4, 10, 10, 2), seed=21)
  out, u = _train_and_its_uniforms(pipeline, images, jax.random.key(5))
  scales = []
  for i in range(4):
    matrix = np.asarray(augment.centered(pipeline.stages[0].matrix(u[i], 10, 10), 10, 10),
                        np.float64)
    scales.append((matrix[0, 0], matrix[1, 1]))
    x = images[i].astype(np.float64) / 255.0
    expected = np.stack([ndi.affine_transform(x[..., c], matrix[:2, :2], matrix[:2, 2], order=1,
                                              mode='nearest') for c in range(2)], -1)
    np.testing.assert_allclose(out[i], expected, atol=1e-4)
  scales = np.array(scales)
  assert np.all((scales >= 0.6) & (scales <= 1.4)) and len(np.unique(scales)) == 8


def test_elastic_alpha_range_is_drawn_per_image():
  op = augment.parse_op('elastic(alpha=(8, 34), sigma=3)')
  pipeline = augment.create_pipeline('elastic(alpha=(8, 34), sigma=3)')
  u = _pipeline_uniforms(pipeline, (6, 6, 1), num_keys=50)
  alphas = np.asarray(jax.vmap(op.draw_alpha)(u[:, 0]))
  assert 8 <= alphas.min() and alphas.max() <= 34
  assert alphas.min() < 8.3 and alphas.max() > 33.7 and abs(alphas.mean() - 21) < 0.5
  fixed = augment.parse_op('elastic(alpha=34, sigma=3)')
  np.testing.assert_array_equal(jax.vmap(fixed.draw_alpha)(u[:5, 0]), 34.0)
  # Each image of a batch is warped with its own alpha (the draw's first
  # uniform) and the noise of the rest, as elastic_warp / scipy would do it.
  images = _images((3, 12, 12, 1), seed=22)
  out, u = _train_and_its_uniforms(pipeline, images, jax.random.key(9))
  drawn = []
  for i in range(3):
    alpha = float(op.draw_alpha(u[i, 0]))
    noise = 2.0 * np.asarray(u[i, 1:]).reshape(2, 12, 12) - 1.0
    x = images[i] / np.float32(255)
    np.testing.assert_allclose(out[i], augment.elastic_warp(x, noise, alpha, 3.0), atol=1e-5)
    for end in (8.0, 34.0):
      assert np.abs(out[i] - augment.elastic_warp(x, noise, end, 3.0)).max() > 1e-3
    drawn.append(alpha)
  assert len(set(drawn)) == 3 and all(8 <= a <= 34 for a in drawn)
  with pytest.raises(UserError, match='alpha'):
    augment.create_pipeline('elastic(alpha=(34, 8))')


@pytest.mark.parametrize('spec,lo,hi', [('brightness(0.3)', 0.7, 1.3),
                                        ('brightness(0.5, 1.5)', 0.5, 1.5),
                                        ('contrast(0.4)', 0.6, 1.4)])
def test_brightness_and_contrast_formulas_at_nonzero_magnitude(spec, lo, hi):
  # Keras brightness_range: x * f; tf.image.adjust_contrast: (x - mean) f + mean;
  # both clipped to [0, 1], f = lo + (hi - lo) u from the image's own uniform.
  pipeline = augment.create_pipeline(spec)
  images = _images((6, 5, 5, 3), seed=31)
  out, u = _train_and_its_uniforms(pipeline, images, jax.random.key(3))
  x = images.astype(np.float64) / 255.0
  factors = lo + (hi - lo) * np.asarray(u[:, 0], np.float64)
  for i, f in enumerate(factors):
    if spec.startswith('brightness'):
      expected = np.clip(x[i] * f, 0, 1)
    else:
      mean = x[i].mean(axis=(0, 1), keepdims=True)
      expected = np.clip((x[i] - mean) * f + mean, 0, 1)
    np.testing.assert_allclose(out[i], expected, atol=1e-5)
    assert np.abs(out[i] - x[i]).max() > 1e-3 or abs(f - 1) < 1e-3  # it did something
  draws = np.asarray(_pipeline_uniforms(pipeline, (5, 5, 3), num_keys=20)[:, 0])
  drawn = lo + (hi - lo) * draws
  assert drawn.min() < lo + 0.01 * (hi - lo) and drawn.max() > hi - 0.01 * (hi - lo)


def test_channel_shift_formula_at_nonzero_magnitude():
  # Keras channel_shift_range(40): one uniform(-40, 40) / 255 added to every
  # channel, clipped to the image's own min and max.
  pipeline = augment.create_pipeline('channel_shift(40)')
  images = _images((6, 5, 5, 3), seed=32)
  out, u = _train_and_its_uniforms(pipeline, images, jax.random.key(4))
  x = images.astype(np.float64) / 255.0
  for i in range(6):
    shift = (-40 + 80 * float(u[i, 0])) / 255.0
    np.testing.assert_allclose(out[i], np.clip(x[i] + shift, x[i].min(), x[i].max()), atol=1e-5)
  shifts = (-40 + 80 * np.asarray(u[:, 0])) / 255.0
  assert np.abs(shifts).max() > 5 / 255.0  # a real shift was applied and checked


@pytest.mark.parametrize('p', [0.5, 0.2])
def test_flip_rate_is_p(p):
  pipeline = augment.create_pipeline(f'flip_lr(p={p})')
  images = np.tile(np.arange(4, dtype=np.uint8)[None, None, :, None] * 60, (2000, 1, 1, 1))
  out = np.asarray(jax.jit(pipeline.train)(jax.random.key(7), images, {}))
  flipped = out[:, 0, 0, 0] > out[:, 0, -1, 0]
  assert abs(flipped.mean() - p) < 0.03  # 2000 draws: 3 standard errors ~ 0.03


@pytest.mark.parametrize('spec,bound', [('rotate(20)', 20.0), ('shear(10)', 10.0),
                                        ('translate(0.25)', 0.25 * 8)])
def test_affine_draw_ranges(spec, bound):
  # Read the drawn parameters off the matrices the fused stage builds for many
  # uniforms ((row, col) coordinates): rotation and shear angles in degrees
  # within +-bound (Keras rotation_range and shear_range are in degrees),
  # shifts within 25% of the size; each range filled to its ends, centred on 0.
  pipeline = augment.create_pipeline(spec)
  stage = pipeline.stages[0]
  u = _pipeline_uniforms(pipeline, (8, 8, 1), num_keys=40)
  m = np.asarray(jax.jit(jax.vmap(lambda ui: stage.matrix(ui, 8, 8)))(u), np.float64)
  if spec.startswith('rotate'):
    values = np.rad2deg(np.arctan2(m[:, 1, 0], m[:, 0, 0]))
    np.testing.assert_allclose(np.linalg.det(m[:, :2, :2]), 1.0, rtol=1e-5)  # a rotation
  elif spec.startswith('shear'):
    # Keras' shear: col' = col - sin(s) row, row' = cos(s) row.
    values = np.rad2deg(np.arcsin(-m[:, 1, 0]))
    np.testing.assert_allclose(m[:, 0, 0], np.cos(np.deg2rad(values)), rtol=1e-5)
  else:
    values = np.concatenate([m[:, 0, 2], m[:, 1, 2]])
  assert np.abs(values).max() <= bound * (1 + 1e-5)
  assert values.min() < -0.97 * bound and values.max() > 0.97 * bound
  assert abs(values.mean()) < 0.05 * bound
