"""The package's import graph: no cycles, and the layers stated below.

Every `import` / `from cnnlab... import` in cnnlab/*.py counts, those inside
functions included (a cycle hidden in a function body is still a cycle).

Layers, bottom to top (a module imports only from its own layer or below):
  0 base        errors, registry, xla_flags, progress, history, figures,
                tensorboard, checkpoints, lookahead
  1 parts       cli, parallel, input_pipeline, augment, models, schedules,
                optimizers, tta, finetune, workdir
  2 steps       steps (pure train/eval steps), report (tables and figures of
                finished evaluations)
  3 use         inference, train (the loop)
  4 commands    main, evaluate, predict, summary, show_data, lr_find, sweep,
                augment_preview
The loop (train) is imported only by the commands that run it.
"""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'cnnlab')

LAYERS = [
    {'errors', 'registry', 'xla_flags', 'progress', 'history', 'figures', 'tensorboard',
     'checkpoints', 'lookahead', '__init__'},
    {'cli', 'parallel', 'input_pipeline', 'augment', 'models', 'schedules', 'optimizers', 'tta',
     'finetune', 'workdir'},
    {'steps', 'report'},
    {'inference', 'train'},
    {'main', 'evaluate', 'predict', 'summary', 'show_data', 'lr_find', 'sweep',
     'augment_preview'},
]
RUNS_THE_LOOP = {'main', 'sweep'}


def import_graph():
  """{module: set of cnnlab modules it imports anywhere in its source}."""
  graph = {}
  for name in sorted(os.listdir(PACKAGE)):
    if not name.endswith('.py'):
      continue
    module = name[:-3]
    tree = ast.parse(open(os.path.join(PACKAGE, name)).read())
    deps = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom) and node.module:
        if node.module == 'cnnlab':
          deps.update(alias.name for alias in node.names)
        elif node.module.startswith('cnnlab.'):
          deps.add(node.module.split('.')[1])
      elif isinstance(node, ast.Import):
        deps.update(a.name.split('.')[1] for a in node.names if a.name.startswith('cnnlab.'))
    graph[module] = deps - {module}
  return graph


def test_every_module_has_a_layer():
  assert set(import_graph()) == set().union(*LAYERS)


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


def test_layers_import_only_downwards():
  layer_of = {m: i for i, layer in enumerate(LAYERS) for m in layer}
  wrong = [f'{m} (layer {layer_of[m]}) imports {d} (layer {layer_of[d]})'
           for m, deps in import_graph().items() for d in deps if layer_of[d] > layer_of[m]]
  assert not wrong, wrong


def test_the_loop_is_imported_only_by_the_commands_that_run_it():
  importers = {m for m, deps in import_graph().items() if 'train' in deps}
  assert importers == RUNS_THE_LOOP


def test_the_checker_sees_imports_inside_functions(tmp_path, monkeypatch):
  # A planted cycle hidden in a function body is found.
  for name, body in (('a', 'def f():\n  from cnnlab import b\n'), ('b', 'from cnnlab import a\n')):
    (tmp_path / f'{name}.py').write_text(body)
  monkeypatch.setattr(__import__(__name__), 'PACKAGE', str(tmp_path))
  with pytest.raises(AssertionError, match='import cycle: a -> b -> a'):
    test_no_import_cycles()


def test_every_module_imports_in_one_process():
  # Commands define their flags only when run: a notebook can import them all.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  modules = sorted(import_graph())
  code = ''.join(f'import cnnlab.{m}\n' for m in modules if m != '__init__')
  result = subprocess.run([sys.executable, '-c', code + 'print("imported")'],
                          cwd=os.path.dirname(PACKAGE), capture_output=True, text=True,
                          timeout=240)
  assert result.returncode == 0 and 'imported' in result.stdout, result.stderr[-3000:]
