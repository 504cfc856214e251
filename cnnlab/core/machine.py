"""The CPU this runs on, and the compute choices measured fastest for its class.

cpu_class() reads /proc/cpuinfo's flags (no backend started): 'amx' (AMX
tiles, Sapphire Rapids and newer Xeons), 'avx512_bf16' (AVX-512 with bfloat16
dot products: Zen 4, Zen 5, Cooper Lake), 'avx512', 'avx2', or 'other'.
RULES maps a class to the (XLA flag profile, convolution, product dtype) that
benchmarks/throughput.py measured fastest there, same run against the other
choices; config.compute's 'auto' fields resolve through it and the run logs
and records what it chose and why (meta.json 'compute').
"""
import os
import platform
from typing import Dict, List, NamedTuple

CPUINFO = '/proc/cpuinfo'


class Choice(NamedTuple):
  xla_cpu: str  # a cnnlab.core.xla_flags.PROFILES name
  conv: str  # a cnnlab.lowering.CONVS name
  dtype: str  # the products' input dtype
  evidence: str  # where it was measured


# Why each row (benchmarks/throughput_results.md, train step, interleaved trials):
#   avx512_bf16: 2 Zen 4 cores, 2026-12-03: XLA's convs with the eigen profile beat
#     im2col and shifted dots 2-4x per layer (building the columns costs more than the
#     dot saves) and bfloat16 products gain nothing for convs (bf16 x bf16 -> f32 dots
#     do run 1.8x faster, but no conv here is a large enough dot); oneDNN routes tie.
#   avx512: 2 Zen 5 cores, 2026-12-01: the eigen profile +45% (VGG) over XLA's defaults.
#   avx2: 2 Zen 3 cores: the eigen profile, VGG 1.10x Keras.
#   amx: not measured by cnnlab; an outside probe (the issue's) saw bf16 dots 3.2x fp32 and
#     im2col 1.8x the native conv there. Until a same-run step measurement, the safe default.
RULES: Dict[str, Choice] = {
    'amx': Choice('eigen', 'xla', 'float32', 'not measured yet: the avx512 default'),
    'avx512_bf16': Choice('eigen', 'xla', 'float32', 'Zen 4, 2026-12-03'),
    'avx512': Choice('eigen', 'xla', 'float32', 'Zen 5, 2026-12-01'),
    'avx2': Choice('eigen', 'xla', 'float32', 'Zen 3, 2026-12-02'),
    'other': Choice('eigen', 'xla', 'float32', 'not measured: the avx2 default'),
}


def cpu_flags(cpuinfo: str = CPUINFO) -> List[str]:
  """The first CPU's feature flags ([] where /proc/cpuinfo is missing, e.g. macOS)."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith(('flags', 'Features')):
          return line.split(':', 1)[1].split()
  except OSError:
    pass
  return []


def cpu_model(cpuinfo: str = CPUINFO) -> str:
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def classify(flags: List[str]) -> str:
  have = set(flags)
  if 'amx_tile' in have:
    return 'amx'
  if 'avx512f' in have:
    return 'avx512_bf16' if 'avx512_bf16' in have else 'avx512'
  if 'avx2' in have:
    return 'avx2'
  return 'other'


def cpu_class(cpuinfo: str = CPUINFO) -> str:
  return classify(cpu_flags(cpuinfo))


def describe(cpuinfo: str = CPUINFO) -> Dict[str, object]:
  """What a benchmark or a run records about the CPU."""
  flags = cpu_flags(cpuinfo)
  wanted = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_tile', 'amx_bf16')
  return {'model': cpu_model(cpuinfo), 'class': classify(flags), 'cores': os.cpu_count(),
          'flags': [f for f in wanted if f in flags]}


def resolve(compute, cpuinfo: str = CPUINFO) -> Dict[str, str]:
  """config.compute with each 'auto' (or unset) field replaced by the rule's choice.

  Returns {'xla_cpu', 'conv', 'dtype', 'cpu_class', 'chosen_by'}; chosen_by says
  which fields came from the rule and its evidence.
  """
  compute = dict(compute or {})
  cls = cpu_class(cpuinfo)
  rule = RULES[cls]
  out, auto = {}, []
  for field in ('xla_cpu', 'conv', 'dtype'):
    value = compute.get(field) or 'auto'
    if value == 'auto':
      value = getattr(rule, field)
      auto.append(field)
    out[field] = value
  out['cpu_class'] = cls
  out['chosen_by'] = (f'rule for {cls} ({rule.evidence}): ' + ', '.join(auto)
                      if auto else 'config')
  return out
