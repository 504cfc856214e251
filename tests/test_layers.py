"""The import graph of both labs: no cycles, and the layers stated below.

Every `import` / `from ... import` of cnnlab or seq2seq in their source counts,
those inside functions included (a cycle hidden in a function body is still a
cycle). Modules are named by their dotted path; a package's __init__ by the
package's name.

Layers, bottom to top (a module imports only from its own layer or below):
  0 core        cnnlab.core.*: errors, registry, cli, parallel, checkpoints,
                history, progress, workdir, guards, best, xla_flags, configs;
                it imports nothing else of cnnlab
  1 base        figures, step_figures, tensorboard, lookahead
  2 parts       input_pipeline, dataset_files (the official formats read),
                official_datasets (where they lie), augment (the package), models, schedules,
                optimizers, tta, finetune, keras_import (Keras files read),
                keras_net (a model from a Keras layer list), backbones
  3 steps       steps (pure train/eval steps), batches (where a step's batch
                comes from), report (tables and figures of finished evaluations)
  4 use         inference, train (the loop)
  5 commands    main, evaluate, predict, summary, show_data, lr_find, sweep,
                augment_preview, schedule_preview, api (the notebook API),
                import_keras
seq2seq is the second lab: it imports cnnlab.core, cnnlab.optimizers and
cnnlab.schedules (pure: config sections in, optax objects out; the same
fields mean the same in both labs) and itself, and cnnlab never imports it. The loop (cnnlab.train) is imported only
by the entry points that run it.
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('cnnlab', 'seq2seq')

# (layer, module-name prefixes); the longest matching prefix decides.
LAYERS = [
    ['cnnlab.core'],
    ['cnnlab', 'cnnlab.figures', 'cnnlab.step_figures', 'cnnlab.tensorboard', 'cnnlab.lookahead'],
    ['cnnlab.input_pipeline', 'cnnlab.dataset_files', 'cnnlab.official_datasets', 'cnnlab.augment', 'cnnlab.models', 'cnnlab.schedules',
     'cnnlab.optimizers', 'cnnlab.tta', 'cnnlab.finetune', 'cnnlab.keras_import', 'cnnlab.keras_net', 'cnnlab.backbones',
     'seq2seq', 'seq2seq.input_pipeline', 'seq2seq.models'],
    ['cnnlab.steps', 'cnnlab.report', 'cnnlab.batches'],
    ['cnnlab.inference', 'cnnlab.train', 'seq2seq.train'],
    ['cnnlab.main', 'cnnlab.evaluate', 'cnnlab.predict', 'cnnlab.summary', 'cnnlab.show_data',
     'cnnlab.lr_find', 'cnnlab.sweep', 'cnnlab.augment_preview', 'cnnlab.schedule_preview',
     'cnnlab.api', 'cnnlab.import_keras', 'seq2seq.main'],
]
SEQ2SEQ_MAY_IMPORT = ('seq2seq', 'cnnlab.core', 'cnnlab.optimizers', 'cnnlab.schedules')
RUNS_THE_LOOP = {'cnnlab.main', 'cnnlab.sweep', 'cnnlab.api'}


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


def layer_of(module):
  best = max(((len(p), i) for i, layer in enumerate(LAYERS) for p in layer
              if module == p or module.startswith(p + '.')), default=None)
  assert best is not None, f'{module} has no layer: add it to LAYERS'
  return best[1]


def test_every_module_has_a_layer():
  for module in modules():
    layer_of(module)


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
  wrong = [f'{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})'
           for m, deps in import_graph().items() for d in deps if layer_of(d) > layer_of(m)]
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
  assert importers <= RUNS_THE_LOOP and {'cnnlab.main', 'cnnlab.sweep'} <= importers


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
  with pytest.raises(AssertionError, match='cnnlab.core.errors .layer 0. imports cnnlab.models'):
    test_layers_import_only_downwards()


def test_every_module_imports_in_one_process():
  # Commands define their flags only when run: a notebook can import them all.
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ''.join(f'import {m}\n' for m in sorted(modules()))
  result = subprocess.run([sys.executable, '-c', code + 'print("imported")'],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
  assert result.returncode == 0 and 'imported' in result.stdout, result.stderr[-3000:]
