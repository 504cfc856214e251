"""Every command of both labs: one preamble (cli.run_command), flags defined only when it
runs, and all of them importable together in one process."""
import ast
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGES = ('cnnlab', 'seq2seq')
# What the scan below must find at least (it finds any new command by itself).
KNOWN = {'cnnlab.main', 'cnnlab.evaluate', 'cnnlab.predict', 'cnnlab.report', 'cnnlab.finetune',
         'cnnlab.sweep', 'cnnlab.lr_find', 'cnnlab.summary', 'cnnlab.show_data',
         'cnnlab.augment_preview', 'cnnlab.schedule_preview', 'cnnlab.import_keras',
         'seq2seq.main'}
MAIN_TEST = "__name__ == '__main__'"


def _source_of(module):
  with open(os.path.join(REPO, *module.split('.')) + '.py') as f:
    return f.read()


def _commands():
  """The modules of both labs with an `if __name__ == '__main__':` block, sorted."""
  found = []
  for package in PACKAGES:
    for folder, _, files in os.walk(os.path.join(REPO, package)):
      for name in files:
        if not name.endswith('.py'):
          continue
        path = os.path.join(folder, name)
        module = os.path.relpath(path, REPO)[:-3].replace(os.sep, '.')
        with open(path) as f:
          body = ast.parse(f.read()).body
        if any(isinstance(n, ast.If) and ast.unparse(n.test) == MAIN_TEST for n in body):
          found.append(module)
  return sorted(found)


COMMANDS = _commands()


def test_the_scan_finds_every_command():
  assert KNOWN <= set(COMMANDS), KNOWN - set(COMMANDS)


@pytest.mark.parametrize('module', COMMANDS)
def test_main_block_is_exactly_run_command(module):
  body = ast.parse(_source_of(module)).body
  mains = [n for n in body if isinstance(n, ast.If) and ast.unparse(n.test) == MAIN_TEST]
  assert len(mains) == 1 and body[-1] is mains[0], f'{module}: one __main__ block, last'
  assert [ast.unparse(s) for s in mains[0].body] == ['cli.run_command(main, define_flags)'], \
      module
  functions = {n.name for n in body if isinstance(n, ast.FunctionDef)}
  assert {'main', 'define_flags'} <= functions, module
  assert any(isinstance(n, ast.ImportFrom) and n.module == 'cnnlab.core'
             and any(a.name == 'cli' and a.asname is None for a in n.names)
             for n in body), f'{module}: `from cnnlab.core import cli` at the top'


# In one process: import every command, then give each one's define_flags a fresh set of
# flags (absl's own only), check what it defined and who owns it, and remove it again.
_DEFINE_EACH = r'''
import importlib, json, sys
from absl import flags
FLAGS = flags.FLAGS
commands = sys.argv[1:]
before_import = set(FLAGS)
modules = [importlib.import_module(m) for m in commands]
report = {'import_defined': {n: FLAGS.find_module_defining_flag(n)
                              for n in set(FLAGS) - before_import}, 'commands': {}}

def define_apart(define):
  """{flag: [type, default]} and the modules owning them, the flags removed again."""
  fresh = set(FLAGS)
  define()
  defined = sorted(set(FLAGS) - fresh)
  kinds = {n: [FLAGS[n].flag_type(), repr(FLAGS[n].default)] for n in defined}
  owners = sorted({FLAGS.find_module_defining_flag(n) for n in defined})
  for name in defined:
    delattr(FLAGS, name)
  assert set(FLAGS) == fresh
  return {'defined': kinds, 'owners': owners}

for module in modules:
  report['commands'][module.__name__] = define_apart(module.define_flags)
from cnnlab.core import cli
report['cli'] = {name: define_apart(getattr(cli, name))['defined']
                 for name in ('define_multihost', 'define_step', 'define_tta')}
print(json.dumps(report))
'''


@pytest.fixture(scope='module')
def defined_flags():
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  result = subprocess.run([sys.executable, '-c', _DEFINE_EACH, *COMMANDS], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_every_command_defines_no_flag(defined_flags):
  # One defined on import would clash with the next command defining it (DuplicateFlagError);
  # libraries (absl.app's --pdb, ...) may define theirs.
  ours = {n: owner for n, owner in defined_flags['import_defined'].items()
          if owner.startswith(PACKAGES)}
  assert not ours, ours


@pytest.mark.parametrize('module', COMMANDS)
def test_each_command_defines_its_flags_as_its_own(defined_flags, module):
  # Flags from cli's shared definers (workdir, config, multihost, ...) belong to the command
  # that calls them: absl's --help lists only the command's own flags.
  defined = defined_flags['commands'][module]
  assert defined['defined'], module
  assert defined['owners'] == [module], defined


def test_a_flag_cli_defines_means_the_same_in_every_command(defined_flags):
  # --step, --tta, --multihost: one type and default wherever a command defines them.
  shared = {n: kind for by_definer in defined_flags['cli'].values()
            for n, kind in by_definer.items()}
  assert set(shared) == {'multihost', 'step', 'tta'}
  differ = [(module, n, kind) for module, d in defined_flags['commands'].items()
            for n, kind in d['defined'].items() if n in shared and kind != shared[n]]
  assert not differ, differ


def test_the_training_commands_share_their_flags(defined_flags):
  commands = defined_flags['commands']
  for module in ('cnnlab.main', 'seq2seq.main'):
    assert {'config', 'workdir', 'multihost'} <= set(commands[module]['defined'])
  assert {'init_from', 'export'} == set(commands['cnnlab.finetune']['defined'])
  assert {'workdirs', 'out'} == set(commands['cnnlab.report']['defined'])


SHARED_FLAGS = ('config', 'workdir', 'step', 'tta', 'multihost')  # cli.define_<name>


@pytest.mark.parametrize('module', COMMANDS)
def test_shared_flags_are_defined_only_by_cli(module):
  # One definition per meaning: a command asks cli for --workdir, never defines its own.
  direct = [ast.unparse(n) for n in ast.walk(ast.parse(_source_of(module)))
            if isinstance(n, ast.Call) and ast.unparse(n.func).split('.')[-1].startswith('DEFINE')
            and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value in SHARED_FLAGS]
  assert not direct, direct


@pytest.mark.parametrize('module', [m for m in COMMANDS if m != 'cnnlab.report'])
def test_leftover_words_reach_run_main(module):
  # cnnlab.report alone takes words: the workdirs after --workdirs.
  calls = [ast.unparse(n) for n in ast.walk(ast.parse(_source_of(module)))
           if isinstance(n, ast.Call) and ast.unparse(n.func) == 'cli.run_main']
  assert calls and all(c.endswith(', argv)') for c in calls), (module, calls)


@pytest.mark.parametrize('module,flag', [('cnnlab.main', '--workdir'), ('seq2seq.main', '--workdir'),
                                         ('cnnlab.summary', '--config')])
def test_a_stray_word_exits_2_naming_it(module, flag, tmp_path):
  value = {'--workdir': str(tmp_path), '--config': 'configs/vgg.py'}[flag]
  result = subprocess.run([sys.executable, '-m', module, f'{flag}={value}', 'typo'],
                          cwd=REPO, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'error: unexpected arguments: typo' in result.stderr and 'Traceback' not in result.stderr
