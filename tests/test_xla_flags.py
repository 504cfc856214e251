"""cnnlab.core.xla_flags: CPU defaults are added only where they apply, by every command."""
import ast
import json
import os
import subprocess
import sys

import pytest

from cnnlab.core import xla_flags
from conftest import REPO

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


# Every command that runs JAX computations sets the defaults first thing, as
# cnnlab.main does, and only when run as a command.
COMMANDS = ('cnnlab.main', 'cnnlab.sweep', 'cnnlab.lr_find', 'cnnlab.evaluate',
            'cnnlab.predict', 'cnnlab.augment_preview', 'cnnlab.schedules', 'cnnlab.summary')
# Runs a command's module as __main__ (as `python -m` does) up to flag parsing
# (--helpshort exits there), recording what had been imported at each call.
_SPY = r'''
import json, os, runpy, sys
from cnnlab.core import xla_flags
calls, real = [], xla_flags.set_cpu_defaults
def spy():
  calls.append(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib')))
  return real()
xla_flags.set_cpu_defaults = spy
module = sys.argv[1]
sys.argv = [module, '--helpshort']
try:
  runpy.run_module(module, run_name='__main__', alter_sys=True)
except SystemExit:
  pass
print('\n' + json.dumps({'calls': calls, 'xla_flags': os.environ.get('XLA_FLAGS', '')}))
'''


@pytest.mark.parametrize('module', COMMANDS)
def test_commands_set_defaults_before_jax_is_imported(module):
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', xla_flags.OFF_ENV)}
  env.update(PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  result = subprocess.run([sys.executable, '-c', _SPY, module], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['calls'] == [[]], report  # called once, before anything imported jax
  assert f'{FLAG}=' in report['xla_flags']


@pytest.mark.parametrize('module', COMMANDS[1:])  # cnnlab.main is only ever a command
def test_importing_a_command_module_sets_nothing(module):
  """The call sits under `if __name__ == '__main__':`, ahead of every import."""
  with open(os.path.join(REPO, *module.split('.')) + '.py') as f:
    body = ast.parse(f.read()).body
  first_import = next(i for i, node in enumerate(body)
                      if isinstance(node, (ast.Import, ast.ImportFrom)))
  calls = [(i, node) for i, node in enumerate(body)
           if 'set_cpu_defaults' in ast.unparse(node)]
  assert len(calls) == 1, module
  index, node = calls[0]
  assert index < first_import, f'{module}: set_cpu_defaults() must come before the imports'
  assert isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"
