"""cnnlab's default XLA flags on CPU: measured faster for its conv nets.

XLA reads XLA_FLAGS once, when JAX starts its first backend (not at `import
jax`), so every command sets them through the one preamble,
cnnlab.core.cli.run_command, before its main computes anything; importing a
command module changes nothing (tests/test_xla_flags.py checks both).
Evidence: benchmarks/throughput_results.md.
config.compute.xla_cpu names the profile (PROFILES); the command's config is
read after flag parsing, still before any backend. Turn it off with
CNNLAB_XLA_DEFAULTS=0. A flag you set in XLA_FLAGS yourself always wins:
defaults are only added for flags XLA_FLAGS does not mention.
Nothing is added when JAX is told to use an accelerator (JAX_PLATFORMS without
'cpu') or when a GPU/TPU plugin is installed and JAX_PLATFORMS does not say
cpu: the flags tune XLA's CPU compiler only.
"""
import importlib.util
import logging
import os
from typing import Dict, List

from cnnlab.core.errors import UserError

# Named flag sets (flag -> value); config.compute.xla_cpu picks one ('auto': the
# rule for the CPU's class, cnnlab.core.machine). Why each one:
#   eigen: XLA 0.10 hands each convolution to YNNPACK by itself, whose
#     weight-gradient convolutions are slow; -individual_convolution sends them to
#     Eigen's. Train step, batch 128, 2 quiet cores, interleaved with Keras
#     (benchmarks/throughput_results.md): seed VGG 496 -> 717 img/s on a Zen 5
#     (+45%; Keras 1,232), ResNet-20 348 -> 383 (+10%; Keras 871).
#   onednn: XLA's oneDNN routes for convolutions and dots (Keras' own JAX-backend tests
#     set this group): per layer 17% faster convs than eigen on a Zen 4 but a tie on the
#     whole step (same file).
#   xla: XLA's own defaults (nothing added).
PROFILES: Dict[str, Dict[str, str]] = {
    'eigen': {'--xla_cpu_experimental_ynn_fusion_type': '-individual_convolution'},
    'onednn': {'--xla_cpu_use_onednn': 'true',
               '--xla_cpu_experimental_onednn_custom_call': 'true',
               '--xla_cpu_use_xnnpack': 'false',
               '--xla_cpu_experimental_ynn_fusion_type': ''},
    'xla': {},
}
DEFAULT_PROFILE = 'eigen'
CPU_DEFAULTS = PROFILES[DEFAULT_PROFILE]
OFF_ENV = 'CNNLAB_XLA_DEFAULTS'
_ADDED: List[str] = []  # the flags this process added (set_cpu_defaults)
_ACCELERATOR_PLUGINS = ('jax_cuda12_plugin', 'jax_cuda13_plugin', 'jax_rocm60_plugin',
                        'jax_rocm7_plugin', 'libtpu')


def _flag_names(xla_flags: str) -> List[str]:
  return [f.split('=', 1)[0] for f in xla_flags.split() if f.startswith('--')]


def platform_is_cpu() -> bool:
  """Whether JAX will run on CPU, decided without starting a backend."""
  platforms = os.environ.get('JAX_PLATFORMS', '').lower()
  if platforms:
    return platforms.split(',')[0].strip() == 'cpu'
  return not any(importlib.util.find_spec(p) for p in _ACCELERATOR_PLUGINS)


def set_cpu_defaults(profile: str = DEFAULT_PROFILE) -> List[str]:
  """Adds PROFILES[profile] to XLA_FLAGS where they apply; returns the flags added."""
  if profile not in PROFILES:
    raise UserError(f'compute.xla_cpu={profile!r}: use auto or one of {", ".join(PROFILES)}')
  if os.environ.get(OFF_ENV, '1').lower() in ('0', 'false', 'no', 'off'):
    return []
  if not platform_is_cpu():
    return []
  # A second call (the config names another profile) replaces what the first added.
  current = [f for f in os.environ.get('XLA_FLAGS', '').split() if f not in _ADDED]
  _ADDED.clear()
  have = set(_flag_names(' '.join(current)))
  added = [f'{name}={value}' for name, value in PROFILES[profile].items() if name not in have]
  _ADDED.extend(added)
  if added or current != os.environ.get('XLA_FLAGS', '').split():
    os.environ['XLA_FLAGS'] = ' '.join(current + added).strip()
    logging.debug('cnnlab CPU defaults added to XLA_FLAGS: %s', ' '.join(added))
  return added
