"""Tests of the spec mini-language (cnnlab/augment/spec.py): arguments, equal specs
giving equal (equally hashed) pipelines, every error message, describe_ops."""
import functools

import jax
import numpy as np
import pytest

from cnnlab import augment
from cnnlab.core.errors import UserError


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
