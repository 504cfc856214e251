"""benchmarks/throughput.py compares like with like: its Keras twins have cnnlab's
parameter counts (BatchNorm statistics included, as Keras counts them), and its
compute specs parse into config.compute's fields."""
import importlib.util
import os

import jax
import pytest

from cnnlab import models
from cnnlab.core import machine
from conftest import REPO

spec = importlib.util.spec_from_file_location(
    'throughput', os.path.join(REPO, 'benchmarks', 'throughput.py'))
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)


def cnnlab_count(name):
  from configs import airbench_cpu, resnet, vgg  # pylint: disable=g-import-not-at-top
  config = {'vgg': vgg, 'resnet20': resnet, 'airbench_cpu': airbench_cpu}[name].get_config()
  model = models.from_config(config.model, throughput.NUM_CLASSES)
  variables = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jax.numpy.zeros((1,) + throughput.IMAGE_SHAPE), train=False))
  return sum(x.size for x in jax.tree_util.tree_leaves(variables))


@pytest.mark.parametrize('name', sorted(throughput.CONFIGS))
def test_keras_twins_have_cnnlabs_parameter_count(name):
  assert throughput.build_keras(name).count_params() == cnnlab_count(name)


def test_compute_specs():
  assert throughput.compute_spec('auto') == {'xla_cpu': 'auto', 'conv': 'auto', 'dtype': 'auto'}
  assert throughput.compute_spec('onednn/im2col/bfloat16') == {
      'xla_cpu': 'onednn', 'conv': 'im2col', 'dtype': 'bfloat16'}
  resolved = machine.resolve(throughput.compute_spec('auto/shifted'))
  assert resolved['conv'] == 'shifted' and resolved['dtype'] == machine.RULES[
      machine.cpu_class()].dtype
