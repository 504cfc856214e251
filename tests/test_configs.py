"""configs/base.py defines every field once, each with a why-comment; cnnlab.core.configs
finds and loads configs from any working directory."""
import os
import re
import subprocess
import sys

import pytest

from cnnlab.core import configs
from cnnlab.core.errors import UserError
from configs import base
from conftest import REPO

# `config.x = ...` in get_config(); `optimizer.x = ...` / `schedule.x = ...` in the
# section functions both labs share (optimizer_config(), schedule_config()).
FIELD = re.compile(r'^\s*(?:config\.)?((?:optimizer|schedule)\.[\w.]+|(?<=config\.)[\w.]+)'
                   r'\s*=\s*(.*)$')


def _flat_keys(config, prefix=''):
  keys = []
  for name, value in config.items():
    if hasattr(value, 'items'):
      keys += _flat_keys(value, f'{prefix}{name}.')
    else:
      keys.append(prefix + name)
  return keys


def test_every_field_is_defined_once_with_a_comment():
  with open(os.path.join(REPO, 'configs', 'base.py')) as f:
    lines = f.read().splitlines()
  defined, uncommented = [], []
  for i, line in enumerate(lines):
    match = FIELD.match(line)
    if not match or match.group(2).startswith(('ml_collections.ConfigDict(', 'optimizer_config(',
                                               'schedule_config(')):
      continue
    defined.append(match.group(1))
    previous = lines[i - 1].strip()
    explained = previous.startswith('#') and not previous.startswith('# ----')  # not a heading
    if '#' not in match.group(2) and not explained:
      uncommented.append(match.group(1))
  assert sorted(defined) == sorted(_flat_keys(base.get_config()))  # each exactly once
  assert not uncommented, f'fields without a why-comment in configs/base.py: {uncommented}'


def test_resolve_path_from_any_directory(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  root = os.path.join(REPO, 'configs')
  for given, expected in [('configs/vgg.py', 'vgg.py'), ('vgg', 'vgg.py'), ('vgg.py', 'vgg.py'),
                          ('configs/seq2seq/addition.py', 'seq2seq/addition.py'),
                          ('seq2seq/addition', 'seq2seq/addition.py')]:
    assert os.path.samefile(configs.resolve_path(given), os.path.join(root, expected)), given
  # A file of that path in the working directory is used as given.
  (tmp_path / 'configs').mkdir()
  (tmp_path / 'configs' / 'vgg.py').write_text(
      'from configs import vgg\n\ndef get_config():\n  config = vgg.get_config()\n'
      '  config.num_epochs = 77\n  return config\n')
  assert configs.resolve_path('configs/vgg.py') == 'configs/vgg.py'
  assert configs.load('configs/vgg.py').num_epochs == 77
  assert configs.load('vgg').num_epochs == 10  # a name is always the installed config
  with pytest.raises(UserError, match=r"no config file 'configs/vggg.py'.*Did you mean vgg\?.*"
                     r'Available configs: .*airbench_cpu.*seq2seq/addition'):
    configs.resolve_path('configs/vggg.py')


def test_names():
  names = configs.names()
  assert {'base', 'vgg', 'airbench', 'airbench_cpu', 'cnn', 'resnet', 'seq2seq/addition',
          'seq2seq/subtract'} <= set(names)
  assert not any('__init__' in n for n in names)


def test_load_with_overrides():
  config = configs.load('seq2seq/addition', {'seed': 3})
  assert config.seed == 3 and 'model' in config
  config = configs.load('configs/cnn.py', {'optimizer.lr': 1, 'model.name': 'conv1'})
  assert config.optimizer.lr == 1.0 and isinstance(config.optimizer.lr, float)
  with pytest.raises(UserError, match=r"'optimizer.nesterovv'.*close fields: optimizer.nesterov"):
    configs.load('vgg', {'optimizer.nesterovv': True})
  with pytest.raises(UserError, match=r"'data.nothing_like_it'.*fields of data: cache_dir, "):
    configs.load('vgg', {'data.nothing_like_it': 1})
  with pytest.raises(UserError, match=r"'num_epochs' cannot be set to '3'"):
    configs.load('vgg', {'num_epochs': '3'})  # types are checked as ml_collections checks them


def _command(cwd, *args):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, '-m', *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=240)


def test_config_flag_from_another_directory(tmp_path):
  result = _command(tmp_path, 'cnnlab.summary', '--config=configs/vgg.py')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Total params: 640,502' in result.stdout
  result = _command(tmp_path, 'cnnlab.summary')  # the flag's default, configs/vgg.py, too
  assert result.returncode == 0 and 'Total params: 640,502' in result.stdout, result.stderr[-3000:]
  result = _command(tmp_path, 'cnnlab.summary', '--config', 'cnn', '--config.model.name=conv1')
  assert result.returncode == 0 and 'Total params: 82,826' in result.stdout, result.stderr[-3000:]
  result = _command(tmp_path, 'cnnlab.summary', '--config=configs/vggg.py')
  assert result.returncode == 2, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr
  assert "error: no config file 'configs/vggg.py'" in result.stderr
  assert 'Available configs: ' in result.stderr and 'seq2seq/addition' in result.stderr
