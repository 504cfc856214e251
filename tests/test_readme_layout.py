"""The README's code layout lists exactly the modules in the tree."""
import os
import re

from conftest import REPO


def layout_descriptions():
  """[(path, what it says of it)] of the README's code layout, in its order."""
  with open(os.path.join(REPO, 'README.md')) as f:
    text = f.read()
  section = text.split('## Code layout', 1)[1]
  block = re.search(r'```\n(.*?)```', section, re.S).group(1)
  return [tuple((line.split(None, 1) + [''])[:2]) for line in block.splitlines() if line.strip()]


def layout_entries():
  return [path for path, _ in layout_descriptions()]


def test_every_module_is_listed_and_every_listed_path_exists():
  entries = layout_entries()
  listed = {e for e in entries if e.endswith('.py')}
  modules = set()
  for package in ('cnnlab', 'seq2seq'):
    for folder, _, files in os.walk(os.path.join(REPO, package)):
      modules.update(os.path.relpath(os.path.join(folder, f), REPO) for f in files
                     if f.endswith('.py') and f != '__init__.py')
  assert listed == modules, (sorted(modules - listed), sorted(listed - modules))
  missing = [e for e in entries if not os.path.exists(os.path.join(REPO, e))]
  assert not missing, missing
