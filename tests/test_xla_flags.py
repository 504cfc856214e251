"""cnnlab.xla_flags: CPU defaults are added only where they apply."""
import pytest

from cnnlab import xla_flags

FLAG = next(iter(xla_flags.CPU_DEFAULTS))


@pytest.fixture
def cpu_env(monkeypatch):
  for name in ('XLA_FLAGS', xla_flags.OFF_ENV):
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  return monkeypatch


def test_adds_every_default_on_cpu(cpu_env):
  added = xla_flags.set_cpu_defaults()
  assert len(added) == len(xla_flags.CPU_DEFAULTS)
  import os  # pylint: disable=g-import-not-at-top
  assert os.environ['XLA_FLAGS'].split() == added


def test_keeps_the_users_flags_and_their_values(cpu_env):
  import os  # pylint: disable=g-import-not-at-top
  cpu_env.setenv('XLA_FLAGS', f'--xla_force_host_platform_device_count=4 {FLAG}=mine')
  xla_flags.set_cpu_defaults()
  flags = os.environ['XLA_FLAGS'].split()
  assert flags[:2] == ['--xla_force_host_platform_device_count=4', f'{FLAG}=mine']
  assert sum(f.startswith(FLAG) for f in flags) == 1  # the user's value wins


@pytest.mark.parametrize('value', ['0', 'false', 'off'])
def test_off_switch(cpu_env, value):
  import os  # pylint: disable=g-import-not-at-top
  cpu_env.setenv(xla_flags.OFF_ENV, value)
  assert xla_flags.set_cpu_defaults() == []
  assert 'XLA_FLAGS' not in os.environ


@pytest.mark.parametrize('platforms,expected', [('cpu', True), ('cuda', False),
                                                ('tpu,cpu', False), ('cpu,cuda', True)])
def test_only_when_jax_runs_on_cpu(cpu_env, platforms, expected):
  cpu_env.setenv('JAX_PLATFORMS', platforms)
  assert bool(xla_flags.set_cpu_defaults()) is expected
