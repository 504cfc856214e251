"""How a model's convolutions and matrix products are computed, for any model.

`Lowering(conv, dtype).wrap(apply_fn)` returns `apply_fn` with every
convolution in the traced program replaced by the implementation CONVS[conv]
and, with dtype='bfloat16', every convolution and dot computed from bfloat16
inputs with float32 accumulation and a float32 result (the form XLA:CPU's dot
hands to AVX512_BF16 / AMX units; parameters, optimizer state, BatchNorm
statistics and the elementwise ops all stay float32). It works on the traced
program (the jaxpr), not on the model's code, so Sequential nets, ResNets,
airbench, imported Keras nets and the ImageNet backbones all get it, and the
parameters, and so the checkpoints, are the same whatever the choice.
Gradients come from JAX's autodiff of the replacement ops.

What is fastest depends on the CPU (benchmarks/throughput_results.md);
cnnlab.core.machine picks the default (config.compute's 'auto').
"""
import dataclasses
import functools
from typing import Callable, Dict

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jex_core

from cnnlab.core import machine
from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

CONVS = Registry('convolution implementation', 'compute.conv')
PRODUCT_DTYPES = ('float32', 'bfloat16')
_CONV_P = jex_core.primitives.conv_general_dilated_p
_DOT_P = jex_core.primitives.dot_general_p
# Call-like primitives whose body is inlined, so convolutions inside jitted
# helpers are reached too.
_INLINED = ('pjit', 'jit', 'closed_call', 'core_call')


def xla_conv(x, kernel, **params):
  """XLA's own convolution (the primitive, unchanged)."""
  return _CONV_P.bind(x, kernel, **params)


def _plain_2d(params) -> bool:
  """Whether im2col / shifted apply: NHWC x HWIO, no dilation, no groups."""
  dn = params['dimension_numbers']
  return (tuple(dn.lhs_spec) == (0, 3, 1, 2) and tuple(dn.rhs_spec) == (3, 2, 0, 1)
          and tuple(dn.out_spec) == (0, 3, 1, 2)
          and all(d == 1 for d in params['lhs_dilation'])
          and all(d == 1 for d in params['rhs_dilation'])
          and params['feature_group_count'] == 1 and params['batch_group_count'] == 1)


def _taps(x, kernel, params):
  """The kernel's shifted views of the padded input: [(i, j, view (B, Ho, Wo, C))]."""
  (top, bottom), (left, right) = params['padding']
  sh, sw = params['window_strides']
  kh, kw = kernel.shape[:2]
  x = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
  ho = (x.shape[1] - kh) // sh + 1
  wo = (x.shape[2] - kw) // sw + 1
  return [(i, j, x[:, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw, :])
          for i in range(kh) for j in range(kw)]


def _out_dtype(x, params):
  return params.get('preferred_element_type') or x.dtype


def im2col_conv(x, kernel, **params):
  """The convolution as one dot: the kernel's taps side by side (B*Ho*Wo, kh*kw*C)."""
  if not _plain_2d(params):
    return xla_conv(x, kernel, **params)
  taps = _taps(x, kernel, params)
  cols = jnp.concatenate([view for _, _, view in taps], axis=-1)
  b, ho, wo, k = cols.shape
  out = lax.dot(cols.reshape(b * ho * wo, k), kernel.reshape(k, kernel.shape[-1]),
                precision=params['precision'], preferred_element_type=_out_dtype(x, params))
  return out.reshape(b, ho, wo, kernel.shape[-1])


def shifted_conv(x, kernel, **params):
  """The convolution as a sum of kh*kw dots, one per tap (no column matrix)."""
  if not _plain_2d(params):
    return xla_conv(x, kernel, **params)
  out = None
  for i, j, view in _taps(x, kernel, params):
    term = lax.dot_general(view, kernel[i, j], (((3,), (0,)), ((), ())),
                           precision=params['precision'],
                           preferred_element_type=_out_dtype(x, params))
    out = term if out is None else out + term
  return out


CONVS.add('xla', xla_conv)
CONVS.add('im2col', im2col_conv)
CONVS.add('shifted', shifted_conv)


def _bfloat16_products(prim_fn):
  """prim_fn with float32 inputs cast to bfloat16, accumulated and returned in float32."""
  def run(a, b, **params):
    if a.dtype != jnp.float32 or b.dtype != jnp.float32:
      return prim_fn(a, b, **params)
    params = dict(params, preferred_element_type=jnp.float32)
    return prim_fn(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), **params)
  return run


def _dot(a, b, **params):
  return _DOT_P.bind(a, b, **params)


def _evaluate(jaxpr, consts, args, rules: Dict[object, Callable]):
  """Evaluates `jaxpr`, binding each primitive in `rules` through its rule instead."""
  env = {}

  def read(v):
    return v.val if isinstance(v, jex_core.Literal) else env[v]

  for var, value in zip(jaxpr.constvars, consts):
    env[var] = value
  for var, value in zip(jaxpr.invars, args):
    env[var] = value
  for eqn in jaxpr.eqns:
    inputs = [read(v) for v in eqn.invars]
    if eqn.primitive in rules:
      outputs = rules[eqn.primitive](*inputs, **eqn.params)
    elif eqn.primitive.name in _INLINED and 'jaxpr' in eqn.params:
      inner = eqn.params['jaxpr']
      outputs = _evaluate(inner.jaxpr, inner.consts, inputs, rules)
    else:
      outputs = eqn.primitive.bind(*inputs, **eqn.primitive.get_bind_params(eqn.params))
    if not eqn.primitive.multiple_results:
      outputs = [outputs]
    for var, value in zip(eqn.outvars, outputs):
      env[var] = value
  return [read(v) for v in jaxpr.outvars]


def _is_array(leaf) -> bool:
  return isinstance(leaf, (jax.Array, np.ndarray, np.generic))  # jax.Array covers tracers


@dataclasses.dataclass(frozen=True)
class Lowering:
  """conv: a CONVS name. dtype: the products' input dtype (PRODUCT_DTYPES)."""
  conv: str = 'xla'
  dtype: str = 'float32'

  def __post_init__(self):
    CONVS.get(self.conv)  # a clear error for an unknown name
    if self.dtype not in PRODUCT_DTYPES:
      raise UserError(f'compute.dtype={self.dtype!r}: use one of {", ".join(PRODUCT_DTYPES)}')

  @property
  def is_identity(self) -> bool:
    return self.conv == 'xla' and self.dtype == 'float32'

  def rules(self) -> Dict[object, Callable]:
    conv = CONVS.get(self.conv)
    if self.dtype == 'bfloat16':
      return {_CONV_P: _bfloat16_products(conv), _DOT_P: _bfloat16_products(_dot)}
    return {_CONV_P: conv}

  def wrap(self, fn: Callable) -> Callable:
    """fn (e.g. a flax module's apply) computed with this lowering."""
    if self.is_identity:
      return fn
    rules = self.rules()

    @functools.wraps(fn)
    def lowered(*args, **kwargs):
      leaves, tree = jax.tree_util.tree_flatten((args, kwargs))
      dynamic = [i for i, leaf in enumerate(leaves) if _is_array(leaf)]

      def flat_fn(*arrays):
        full = list(leaves)
        for i, a in zip(dynamic, arrays):
          full[i] = a
        a, k = jax.tree_util.tree_unflatten(tree, full)
        return fn(*a, **k)

      arrays = [leaves[i] for i in dynamic]
      closed, out_shape = jax.make_jaxpr(flat_fn, return_shape=True)(*arrays)
      outputs = _evaluate(closed.jaxpr, closed.consts, arrays, rules)
      return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), outputs)

    return lowered


def resolved(config) -> Dict[str, str]:
  """config.compute resolved for this CPU (machine.resolve); a config without the
  section (a run written before it) gets the rule's choices."""
  return machine.resolve(config.get('compute'))


def from_choice(choice: Dict[str, str]) -> Lowering:
  """The Lowering of a resolved config.compute (machine.resolve's dict)."""
  return Lowering(choice['conv'], choice['dtype'])


def from_config(config) -> Lowering:
  return from_choice(resolved(config))
