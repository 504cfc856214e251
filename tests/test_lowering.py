"""cnnlab.lowering: every conv implementation gives XLA's outputs and gradients, on
single convs and through real models; bfloat16 products stay close; the run
records its choice; cnnlab.core.machine's rule reads the CPU's class."""
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cnnlab import lowering
from cnnlab import models
from cnnlab import train
from cnnlab.core import machine
from cnnlab.core import xla_flags
from cnnlab.core.errors import UserError
from conftest import run_module, tiny_config

NHWC = ('NHWC', 'HWIO', 'NHWC')
# (size, in, out, kernel, stride, padding): 'same', strided, valid, even and 1x1 kernels.
CASES = [(9, 5, 7, 3, 1, 'SAME'), (9, 5, 7, 3, 2, ((1, 1), (1, 1))), (8, 5, 7, 2, 1, 'VALID'),
         (8, 3, 4, 1, 2, 'VALID'), (10, 4, 6, 3, 2, 'SAME'), (7, 2, 3, 3, 1, ((2, 0), (0, 1)))]


def conv_and_grads(conv_name, case, dtype='float32'):
  size, cin, cout, k, stride, padding = case
  kx, kw, kg = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (2, size, size, cin))
  w = jax.random.normal(kw, (k, k, cin, cout))
  fn = lowering.Lowering(conv_name, dtype).wrap(
      lambda x, w: lax.conv_general_dilated(x, w, (stride, stride), padding,
                                            dimension_numbers=NHWC))
  y, pull = jax.vjp(fn, x, w)
  return (y,) + pull(jax.random.normal(kg, y.shape))


def relative_error(a, b):
  return float(jnp.linalg.norm((a - b).ravel()) / jnp.linalg.norm(b.ravel()))


@pytest.mark.parametrize('conv', ['im2col', 'shifted'])
@pytest.mark.parametrize('case', CASES)
def test_conv_lowerings_match_xla_outputs_and_both_gradients(conv, case):
  reference = conv_and_grads('xla', case)
  got = conv_and_grads(conv, case)
  for name, a, b in zip(('output', 'input grad', 'kernel grad'), got, reference):
    assert a.shape == b.shape and a.dtype == jnp.float32
    assert relative_error(a, b) < 1e-5, (name, relative_error(a, b))


def test_bfloat16_products_are_bfloat16_close_and_float32_out():
  reference = conv_and_grads('xla', CASES[0])
  for conv in lowering.CONVS.names():
    got = conv_and_grads(conv, CASES[0], 'bfloat16')
    for a, b in zip(got, reference):
      assert a.dtype == jnp.float32
      error = relative_error(a, b)
      # bfloat16 keeps 8 bits of mantissa: ~0.4% per input; far from float32's 1e-7.
      assert 1e-4 < error < 2e-2, (conv, error)


def model_loss_and_grads(name, options, low, train=False):
  model = models.create_model(name, 10, **options)
  x = jax.random.uniform(jax.random.key(1), (16, 32, 32, 3))
  variables = model.init(jax.random.key(0), x, train=False)
  apply = low.wrap(model.apply)

  def loss(params):
    logits, _ = apply({**variables, 'params': params}, x, train=train,
                      rngs={'dropout': jax.random.key(2)}, mutable=['batch_stats'])
    return jnp.mean(logits ** 2)

  return jax.jit(jax.value_and_grad(loss))(variables['params'])


@pytest.mark.parametrize('name,options', [('vgg', {}), ('resnet20', {}),
                                          ('airbench', {'widths': (8, 16, 16)})])
def test_models_train_the_same_through_every_lowering(name, options):
  loss, grads = model_loss_and_grads(name, options, lowering.Lowering())
  flat = jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(grads)])
  for conv in ('im2col', 'shifted'):
    other_loss, other = model_loss_and_grads(name, options, lowering.Lowering(conv))
    assert jax.tree_util.tree_structure(other) == jax.tree_util.tree_structure(grads)
    other_flat = jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(other)])
    assert abs(float(other_loss - loss)) <= 1e-5 * abs(float(loss)) + 1e-7
    assert relative_error(other_flat, flat) < 1e-4, (conv, relative_error(other_flat, flat))
    # In training mode BatchNorm's statistics over 16 images amplify float32 round-off
    # (ResNet-20: 2e-3 between any two summation orders; in float64 all agree to 1e-6).
    _, xla_train = model_loss_and_grads(name, options, lowering.Lowering(), train=True)
    _, low_train = model_loss_and_grads(name, options, lowering.Lowering(conv), train=True)
    assert relative_error(*[jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(t)])
                            for t in (low_train, xla_train)]) < 1e-2
  bf_loss, bf = model_loss_and_grads(name, options, lowering.Lowering('xla', 'bfloat16'))
  bf_flat = jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(bf)])
  assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(bf))
  assert 0 < relative_error(bf_flat, flat) < 0.1
  assert abs(float(bf_loss - loss)) < 0.05 * abs(float(loss))


def test_the_lowering_reaches_every_conv_and_dot():
  # A dot and a conv inside a jitted helper, as library code has them.
  @jax.jit
  def helper(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=NHWC)

  def net(x, w, d):
    return helper(x, w).reshape(x.shape[0], -1) @ d

  x, w, d = jnp.ones((2, 4, 4, 3)), jnp.ones((3, 3, 3, 2)), jnp.ones((32, 5))
  text = str(jax.make_jaxpr(lowering.Lowering('im2col', 'bfloat16').wrap(net))(x, w, d))
  assert 'conv_general_dilated' not in text  # the jitted conv became a dot
  # Both dots (the conv's and the matmul) take bfloat16 and give float32.
  assert len(re.findall(r'f32\[[0-9,]*\] = dot_general', text)) == 2, text
  for shape in ('2,4,4,3', '3,3,3,2', '2,32', '32,5'):  # the four inputs, cast once each
    assert f'bf16[{shape}] = convert_element_type' in text, shape


def test_unknown_choices_are_clear_errors():
  with pytest.raises(UserError, match='compute.conv'):
    lowering.Lowering('winograd')
  with pytest.raises(UserError, match='compute.dtype'):
    lowering.Lowering('xla', 'float16')
  with pytest.raises(UserError, match='compute.xla_cpu'):
    xla_flags.set_cpu_defaults('mkl')


@pytest.mark.parametrize('flags,expected', [
    ('fpu sse2 avx2 fma', 'avx2'),
    ('avx2 avx512f avx512bw', 'avx512'),
    ('avx2 avx512f avx512_bf16 avx512_vnni', 'avx512_bf16'),
    ('avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8', 'amx'),
    ('neon asimd', 'other'),
])
def test_cpu_class_from_cpuinfo(tmp_path, flags, expected):
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text(f'processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n')
  assert machine.cpu_class(str(cpuinfo)) == expected
  described = machine.describe(str(cpuinfo))
  assert described['model'] == 'Test CPU' and described['class'] == expected
  choice = machine.resolve({'xla_cpu': 'auto', 'conv': 'im2col', 'dtype': 'auto'}, str(cpuinfo))
  rule = machine.RULES[expected]
  assert choice['conv'] == 'im2col'  # a set field wins over the rule
  assert (choice['xla_cpu'], choice['dtype']) == (rule.xla_cpu, rule.dtype)
  assert choice['chosen_by'].startswith(f'rule for {expected}')
  assert 'xla_cpu' in choice['chosen_by'] and 'conv' not in choice['chosen_by']


def test_a_config_profile_replaces_the_rules_flags(monkeypatch):
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  monkeypatch.delenv(xla_flags.OFF_ENV, raising=False)
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  monkeypatch.setattr(xla_flags, '_ADDED', [])
  os.environ['XLA_FLAGS'] = '--xla_dump_to=/tmp/mine'
  xla_flags.set_cpu_defaults('eigen')
  xla_flags.set_cpu_defaults('onednn')
  flags = os.environ['XLA_FLAGS'].split()
  assert flags[0] == '--xla_dump_to=/tmp/mine'
  assert flags[1:] == [f'{k}={v}' for k, v in xla_flags.PROFILES['onednn'].items()]


def test_a_run_with_a_lowering_trains_records_it_and_resumes(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, **{'compute.conv': 'shifted',
                                                  'compute.dtype': 'bfloat16'})
  workdir = str(tmp_path / 'run')
  final = train.train_and_evaluate(config, workdir)
  assert np.isfinite(final['val_loss'])
  with open(os.path.join(workdir, 'meta.json')) as f:
    compute = json.load(f)['compute']
  assert (compute['conv'], compute['dtype']) == ('shifted', 'bfloat16')
  assert compute['xla_cpu'] == machine.RULES[machine.cpu_class()].xla_cpu
  assert compute['cpu']['class'] == machine.cpu_class()
  # The same workdir resumes under the default lowering (the parameters do not change).
  config.compute.conv, config.compute.dtype = 'auto', 'auto'
  config.num_epochs = 3
  again = train.train_and_evaluate(config, workdir)
  assert again['step'] > final['step']


def test_the_command_refuses_an_unknown_profile(tmp_path):
  result = run_module('cnnlab.main', '--config=configs/vgg.py', f'--workdir={tmp_path}',
                      '--config.compute.xla_cpu=mkl', timeout=120)
  assert result.returncode == 2
  assert 'compute.xla_cpu' in result.stderr and 'Traceback' not in result.stderr
