"""Tests of the pixel ops (cnnlab/augment/pixel.py): cutout, brightness, contrast,
channel_shift, against Keras' and tf.image's formulas at the drawn factors."""
import jax
import numpy as np
import pytest

from cnnlab import augment
from conftest import augment_train as _train
from conftest import augment_train_and_uniforms as _train_and_its_uniforms
from conftest import augment_uniforms as _pipeline_uniforms
from conftest import random_uint8_images as _images


def test_cutout_blanks_one_square():
  images = np.full((4, 10, 10, 1), 200, np.uint8)
  out = _train('cutout(4)', images)
  for o in out:
    blank = o[..., 0] == 0
    assert 0 < blank.sum() <= 16
    rows, cols = np.nonzero(blank)
    assert rows.max() - rows.min() < 4 and cols.max() - cols.min() < 4
    np.testing.assert_allclose(o[~blank], 200 / 255.0)


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
