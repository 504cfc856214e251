"""The import graph of both labs: no cycles, and the order the README states.

Every `import` / `from ... import` of cnnlab or seq2seq in their source counts,
those inside functions included (a cycle hidden in a function body is still a
cycle). Modules are named by their dotted path; a package's __init__ by the
package's name.

The rule is the README's code layout (tests/test_readme_layout.py checks that
it lists every module): each module imports only modules listed above it; a
package stands where its last listed module stands. Besides:
  - cnnlab.core imports nothing else of cnnlab;
  - seq2seq, the second lab, imports cnnlab.core, cnnlab.optimizers and
    cnnlab.schedules (pure: config sections in, optax objects out; the same
    fields mean the same in both labs) and itself, and cnnlab never imports it;
  - the loop (cnnlab.train) is imported only by commands (README: "command:")
    and the notebook API.
"""
import ast
import os

import pytest

from test_readme_layout import layout_descriptions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('cnnlab', 'seq2seq')
SEQ2SEQ_MAY_IMPORT = ('seq2seq', 'cnnlab.core', 'cnnlab.optimizers', 'cnnlab.schedules')


def stated_order():
  """{module: its position in the README's code layout} (packages: their last module's)."""
  order = {}
  for i, (path, _) in enumerate(layout_descriptions()):
    if path.endswith('.py'):
      module = path[:-3].replace('/', '.')
      order[module] = i
      package = module.rpartition('.')[0]
      while package:
        order[package] = max(order.get(package, -1), i)
        package = package.rpartition('.')[0]
  return order


def runs_the_loop_allowed():
  """The modules the README calls commands, and the notebook API."""
  return {path[:-3].replace('/', '.') for path, what in layout_descriptions()
          if path.endswith('.py') and (what.startswith('command') or 'notebook API' in what)}


def modules(root=None):
  """{dotted module name: source path} of every .py file of the two packages."""
  root = root or ROOT
  found = {}
  for package in PACKAGES:
    for folder, _, files in os.walk(os.path.join(root, package)):
      for name in files:
        if not name.endswith('.py'):
          continue
        parts = os.path.relpath(os.path.join(folder, name), root)[:-3].split(os.sep)
        if parts[-1] == '__init__':
          parts = parts[:-1]
        found['.'.join(parts)] = os.path.join(folder, name)
  return found


def import_graph(root=None):
  """{module: set of cnnlab/seq2seq modules it imports anywhere in its source}."""
  known = modules(root)

  def resolve(name):  # 'cnnlab.core.errors' -> itself; 'cnnlab.core.errors.X' -> the module
    while name and name not in known:
      name = name.rpartition('.')[0]
    return name

  graph = {}
  for module, path in known.items():
    deps = set()
    for node in ast.walk(ast.parse(open(path).read())):
      if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module.split('.')[0] in PACKAGES:
          for alias in node.names:  # `from cnnlab import models` names a module
            deps.add(resolve(f'{node.module}.{alias.name}'))
      elif isinstance(node, ast.Import):
        deps.update(resolve(a.name) for a in node.names if a.name.split('.')[0] in PACKAGES)
    graph[module] = deps - {module, ''}
  return graph


def test_every_module_has_a_stated_place():
  order = stated_order()
  assert not [m for m in modules() if m not in order], 'list them in the README\'s code layout'


def test_no_import_cycles():
  graph = import_graph()
  state = {}

  def visit(module, path):
    if state.get(module) == 'done':
      return
    assert state.get(module) != 'active', 'import cycle: ' + ' -> '.join(path + [module])
    state[module] = 'active'
    for dep in sorted(graph.get(module, ())):
      visit(dep, path + [module])
    state[module] = 'done'

  for module in graph:
    visit(module, [])


def test_modules_import_only_what_the_readme_lists_above_them(order=None, graph=None):
  order = stated_order() if order is None else order
  graph = import_graph() if graph is None else graph
  wrong = [f'{m} imports {d}, listed below it' for m, deps in graph.items() for d in deps
           if order[d] >= order[m] and not d.startswith(m + '.')]  # a package its own modules
  assert not wrong, wrong


def test_core_imports_only_core_and_the_labs_share_only_core():
  graph = import_graph()
  wrong = [f'{m} imports {d}' for m, deps in graph.items() for d in deps
           if (m.startswith('cnnlab.core') and not d.startswith('cnnlab.core'))
           or (m.startswith('seq2seq') and not d.startswith(SEQ2SEQ_MAY_IMPORT))
           or (m.startswith('cnnlab') and d.startswith('seq2seq'))]
  assert not wrong, wrong
  assert any(d.startswith('cnnlab.core') for d in graph['seq2seq.train'])


def test_the_loop_is_imported_only_by_the_entry_points_that_run_it():
  importers = {m for m, deps in import_graph().items() if 'cnnlab.train' in deps}
  assert importers <= runs_the_loop_allowed() and {'cnnlab.main', 'cnnlab.sweep'} <= importers


def test_the_checker_sees_imports_inside_functions_and_layer_breaks(tmp_path, monkeypatch):
  # A planted cycle hidden in a function body is found, and so is core importing upwards.
  package = tmp_path / 'cnnlab'
  (package / 'core').mkdir(parents=True)
  (package / '__init__.py').write_text('')
  (package / 'core' / '__init__.py').write_text('')
  (package / 'core' / 'errors.py').write_text('def f():\n  from cnnlab import models\n')
  (package / 'models.py').write_text('from cnnlab.core import errors\n')
  monkeypatch.setattr(__import__(__name__), 'ROOT', str(tmp_path))
  monkeypatch.setattr(__import__(__name__), 'PACKAGES', ('cnnlab',))
  assert import_graph(str(tmp_path))['cnnlab.core.errors'] == {'cnnlab.models'}
  with pytest.raises(AssertionError, match='import cycle: .*cnnlab.core.errors -> cnnlab.models'):
    test_no_import_cycles()
  with pytest.raises(AssertionError, match='cnnlab.core.errors imports cnnlab.models, listed '
                     'below it'):
    test_modules_import_only_what_the_readme_lists_above_them(
        {'cnnlab': -1, 'cnnlab.core': 0, 'cnnlab.core.errors': 0, 'cnnlab.models': 1})


def test_every_module_imports_in_one_process():
  # Commands define their flags only when run: a notebook can import them all.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ''.join(f'import {m}\n' for m in sorted(modules()))
  result = subprocess.run([sys.executable, '-c', code + 'print("imported")'],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
  assert result.returncode == 0 and 'imported' in result.stdout, result.stderr[-3000:]


# What an import inside a function may load: each costs real time at import (matplotlib
# ~0.5 s, TensorFlow seconds) or is optional, and a command that never draws or reads
# those never pays it.
LAZY_ALLOWED = ('matplotlib', 'cnnlab.figures', 'cnnlab.step_figures', 'tensorflow_datasets',
                'tensorboardX', 'h5py')


def lazy_imports(root=None):
  """[(path, line, imported module, says why)] of every import inside a function."""
  found = []
  for module, path in modules(root).items():
    lines = open(path).read().splitlines()
    for node in ast.walk(ast.parse('\n'.join(lines))):
      if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        continue
      for inner in ast.walk(node):
        if isinstance(inner, ast.ImportFrom) and inner.module:
          names = [inner.module + '.' + a.name if inner.module == 'cnnlab' else inner.module
                   for a in inner.names]
        elif isinstance(inner, ast.Import):
          names = [a.name for a in inner.names]
        else:
          continue
        found += [(path, inner.lineno, name, says_why(lines, inner.lineno - 1))
                  for name in names]
  return found


def says_why(lines, i):
  """Whether the import at lines[i], or its block of imports, carries a comment of its own
  (beyond the pylint marker) or follows a comment line."""
  first = i
  while first > 0 and lines[first - 1].strip().startswith(('import ', 'from ')):
    first -= 1
  remark = lambda line: line.partition('#')[2].replace(  # pylint: disable=unnecessary-lambda-assignment
      'pylint: disable=g-import-not-at-top', '').strip()
  return (any(remark(line) for line in lines[first:i + 1])
          or lines[first - 1].strip().startswith('#'))


def test_imports_inside_functions_only_defer_a_real_cost_and_say_why():
  wrong = [f'{os.path.relpath(p, ROOT)}:{n} imports {m}' + ('' if why else ' without a why')
           for p, n, m, why in lazy_imports()
           if not why or not any(m == a or m.startswith(a + '.') for a in LAZY_ALLOWED)]
  assert not wrong, wrong
