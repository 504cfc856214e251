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


# Every command sets the defaults through the one preamble, cli.run_command,
# before JAX starts a backend (XLA reads XLA_FLAGS then, not at `import jax`),
# and only when run as a command.
COMMANDS = ('cnnlab.main', 'cnnlab.sweep', 'cnnlab.lr_find', 'cnnlab.evaluate',
            'cnnlab.predict', 'cnnlab.augment_preview', 'cnnlab.schedule_preview',
            'cnnlab.summary', 'cnnlab.show_data', 'cnnlab.import_keras', 'cnnlab.report',
            'cnnlab.finetune', 'seq2seq.main')
# Runs a command's module as __main__ (as `python -m` does) up to flag parsing
# (--helpshort exits there), recording at each call whether a backend had started.
_SPY = r'''
import json, os, runpy, sys
from cnnlab.core import xla_flags
from jax._src import xla_bridge
calls, real = [], xla_flags.set_cpu_defaults
def spy(*args):
  calls.append(xla_bridge.backends_are_initialized())
  return real(*args)
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
def test_commands_set_defaults_before_a_backend_starts(module):
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', xla_flags.OFF_ENV)}
  env.update(PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  result = subprocess.run([sys.executable, '-c', _SPY, module], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['calls'] == [False], report  # called once, before any backend started
  assert f'{FLAG}=' in report['xla_flags']


def test_the_flags_take_effect_when_set_after_importing_jax():
  # What run_command relies on: XLA parses XLA_FLAGS when the first backend
  # starts. A bogus flag set after `import jax` is still seen (and refused).
  code = ('import jax, os\n'
          'os.environ["XLA_FLAGS"] = "--xla_cnnlab_no_such_flag=1"\n'
          'jax.devices()\n')
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  result = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode != 0 and 'xla_cnnlab_no_such_flag' in result.stderr


@pytest.mark.parametrize('module', COMMANDS)
def test_a_command_sets_flags_only_through_run_command(module):
  """Its `if __name__ == '__main__':` block is the preamble; nothing else calls it."""
  with open(os.path.join(REPO, *module.split('.')) + '.py') as f:
    source = f.read()
  body = ast.parse(source).body
  assert 'set_cpu_defaults' not in source, module
  mains = [node for node in body if isinstance(node, ast.If)
           and ast.unparse(node.test) == "__name__ == '__main__'"]
  assert len(mains) == 1 and body[-1] is mains[0], module
  assert ast.unparse(mains[0].body[-1]).startswith('cli.run_command(main'), module


def test_importing_every_command_sets_nothing():
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', xla_flags.OFF_ENV)}
  env.update(PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  code = ''.join(f'import {m}\n' for m in COMMANDS) + (
      'import os; print(repr(os.environ.get("XLA_FLAGS")))')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().splitlines()[-1] == 'None'
