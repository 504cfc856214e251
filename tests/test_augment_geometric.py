"""Tests of the geometric ops (cnnlab/augment/geometric.py) through the pipeline.

Flips (random and alternating), whole-pixel translation, pad_crop, and the
draws of zoom, rotate, shear, translate and elastic: in range, filling it, and
the image transformed by exactly what was drawn.
"""
import functools

import jax
import numpy as np
import pytest
import scipy.ndimage as ndi

from cnnlab import augment
from cnnlab.core.errors import UserError
from conftest import augment_train as _train
from conftest import augment_train_and_uniforms as _train_and_its_uniforms
from conftest import augment_uniforms as _pipeline_uniforms
from conftest import random_uint8_images as _images


# ---- flips, shifts and crops -----------------------------------------------------
def test_flips():
  images = _images()
  x = images / np.float32(255)
  close = functools.partial(np.testing.assert_allclose, rtol=1e-6)
  close(_train('flip_lr(p=1)', images), x[:, :, ::-1])
  close(_train('flip_ud(p=1)', images), x[:, ::-1])
  close(_train('flip_lr(p=1)|flip_lr(p=1)|flip_ud(1.0)|flip_ud(1.0)', images), x)
  close(_train('flip_lr(p=0)', images), x)


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


def test_pad_crop_is_a_window_of_the_padded_image():
  images = _images((4, 6, 6, 1), seed=10)
  for mode, np_mode in (('reflect', 'symmetric'), ('mirror', 'reflect'), ('constant', 'constant')):
    out = _train(f'pad_crop(2, fill_mode="{mode}")', images, seed=1)
    for o, x in zip(out, images / np.float32(255)):
      padded = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode=np_mode)
      windows = [padded[i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
      assert any(np.allclose(o, w, rtol=1e-6, atol=0) for w in windows), mode


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


# ---- draw ranges -----------------------------------------------------------------
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
