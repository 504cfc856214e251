"""configs/base.py defines every field once, each with a why-comment."""
import os
import re

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
