r"""Fine-tuning: start a run from another run's weights (config.init_from).

`init_from` may be
  * a cnnlab workdir (its best checkpoint, else its latest),
  * a checkpoint directory: `<workdir>/best`, `<workdir>/checkpoints` (latest
    step) or one step inside them (`<workdir>/checkpoints/1200`),
  * a `.npz` whose keys are '/'-joined names, 'params/Conv_0/kernel',
    'batch_stats/BatchNorm_0/mean' (how weights from elsewhere come in:
    convert them to this layout, see `export_npz` for the reverse).

Params and BatchNorm statistics are matched by name; a layer whose shape
differs (a new head for another class count) or that the source lacks keeps
its fresh initialisation, and the list of those is logged and written to
`<workdir>/init_from.json`. The optimizer state starts fresh. Parameters to
keep fixed are chosen with config.freeze (see cnnlab.optimizers).

  python -m cnnlab.finetune --init_from=runs/vgg --export=vgg.npz   # weights to .npz
  python -m cnnlab.finetune --init_from=vgg.npz                     # list names, shapes
"""
import json
import logging
import os
from typing import Any, Dict, Tuple

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from cnnlab.core import cli
from cnnlab.core.errors import UserError
from cnnlab.optimizers import path_name

COLLECTIONS = ('params', 'batch_stats')
REPORT_FILE = 'init_from.json'
FLAGS = flags.FLAGS


def _is_step_dir(path: str) -> bool:
  return os.path.isdir(os.path.join(path, 'default')) or os.path.exists(
      os.path.join(path, '_CHECKPOINT_METADATA'))


def _latest_step_dir(manager_dir: str) -> str:
  steps = [int(s) for s in os.listdir(manager_dir) if s.isdigit()
           and _is_step_dir(os.path.join(manager_dir, s))] if os.path.isdir(manager_dir) else []
  return os.path.join(manager_dir, str(max(steps))) if steps else ''


def resolve(init_from: str) -> str:
  """The .npz file or orbax step directory that `init_from` designates."""
  path = os.path.abspath(os.path.expanduser(init_from))
  if path.endswith('.npz'):
    if not os.path.isfile(path):
      raise UserError(f'init_from={init_from!r}: no such file')
    return path
  if not os.path.isdir(path):
    raise UserError(f'init_from={init_from!r} is neither a directory nor a .npz file')
  if _is_step_dir(path):
    return path
  for sub in ('best', 'checkpoints'):  # a workdir: best first
    step_dir = _latest_step_dir(os.path.join(path, sub))
    if step_dir:
      return step_dir
  step_dir = _latest_step_dir(path)  # a manager directory
  if step_dir:
    return step_dir
  raise UserError(f'init_from={init_from!r} holds no checkpoint: pass a cnnlab workdir, its '
                  'best/ or checkpoints/ directory, one step inside them, or a .npz')


def flatten(tree: Any, prefix: str = '') -> Dict[str, np.ndarray]:
  """{'Conv_0': {'kernel': x}} -> {'Conv_0/kernel': x}."""
  flat = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    flat[prefix + path_name(path)] = leaf
  return flat


def unflatten(flat: Dict[str, Any]) -> Dict[str, Any]:
  tree: Dict[str, Any] = {}
  for name, value in flat.items():
    *parents, leaf = name.split('/')
    node = tree
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = value
  return tree


def load_variables(init_from: str) -> Dict[str, Dict[str, np.ndarray]]:
  """{'params': flat, 'batch_stats': flat} (flat: name -> array) from `init_from`."""
  path = resolve(init_from)
  if path.endswith('.npz'):
    with np.load(path) as data:
      flat = {k: data[k] for k in data.files}
    unknown = sorted({k.split('/', 1)[0] for k in flat} - set(COLLECTIONS))
    if unknown:
      raise UserError(f'{init_from}: keys must start with params/ or batch_stats/ '
                      f'(found {unknown[0]!r}...)')
    return {c: {k.split('/', 1)[1]: v for k, v in flat.items() if k.startswith(c + '/')}
            for c in COLLECTIONS}
  item = os.path.join(path, 'default') if os.path.isdir(os.path.join(path, 'default')) else path
  absl_logger = logging.getLogger('absl')
  level = absl_logger.level
  absl_logger.setLevel(logging.ERROR)  # orbax warns that a bare item has no step metadata
  try:
    with ocp.StandardCheckpointer() as checkpointer:
      restored = checkpointer.restore(item)
  except Exception as e:  # orbax raises many kinds; the path is what the user needs
    raise UserError(f'cannot read a checkpoint from {path!r}: {e}') from e
  finally:
    absl_logger.setLevel(level)
  return {c: {k: np.asarray(v) for k, v in flatten(restored.get(c) or {}).items()}
          for c in COLLECTIONS}


def merge(target: Any, source: Dict[str, np.ndarray]) -> Tuple[Any, Dict[str, Any]]:
  """`target` with every leaf whose name and shape `source` has replaced by it.

  Returns:
    (merged tree, report) where report lists 'loaded', 'reinitialised'
    (name: [source shape, new shape]), 'missing' (not in source) and
    'unused' (in source but not in target) names.
  """
  report = {'loaded': [], 'reinitialised': {}, 'missing': [], 'unused': []}
  used = set()

  def pick(path, leaf):
    name = path_name(path)
    if name not in source:
      report['missing'].append(name)
      return leaf
    used.add(name)
    value = source[name]
    if tuple(value.shape) != tuple(leaf.shape):
      report['reinitialised'][name] = [list(value.shape), list(leaf.shape)]
      return leaf
    report['loaded'].append(name)
    return jnp.asarray(value, leaf.dtype)

  merged = jax.tree_util.tree_map_with_path(pick, target)
  report['unused'] = sorted(set(source) - used)
  return merged, report


def load_init(state: Any, init_from: str, workdir: str = '') -> Any:
  """`state` (a fresh TrainState) with params and batch stats from `init_from`.

  Layers that could not be loaded keep their initialisation; they are logged
  and, with `workdir`, recorded in `<workdir>/init_from.json`. The optimizer
  state is re-initialised for the new params.
  """
  source = load_variables(init_from)
  params, report = merge(state.params, source['params'])
  batch_stats, stats_report = merge(state.batch_stats, source['batch_stats'])
  if not report['loaded']:
    raise UserError(f'init_from={init_from!r} shares no parameter (by name and shape) with '
                    f'this model; its names look like {sorted(source["params"])[:4]}, the '
                    f'model\'s like {report["missing"][:4]}')
  full = {'init_from': resolve(init_from), 'params': report, 'batch_stats': stats_report}
  logging.info('init_from %s: loaded %d params and %d batch stats', full['init_from'],
               len(report['loaded']), len(stats_report['loaded']))
  for name, (old, new) in {**report['reinitialised'],
                           **stats_report['reinitialised']}.items():
    logging.info('  re-initialised %s: shape %s in the source, %s here', name, old, new)
  for name in report['missing'] + stats_report['missing']:
    logging.info('  re-initialised %s: not in the source', name)
  if workdir:
    with open(os.path.join(workdir, REPORT_FILE), 'w') as f:
      json.dump(full, f, indent=2)
  return state.replace(params=params, batch_stats=batch_stats,
                       opt_state=state.tx.init(params))


def export_npz(init_from: str, path: str) -> int:
  """Writes the params and batch stats of `init_from` as a '/'-keyed .npz; returns count."""
  variables = load_variables(init_from)
  flat = {f'{c}/{k}': v for c in COLLECTIONS for k, v in variables[c].items()}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  np.savez(path, **flat)
  return len(flat)


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  flags.DEFINE_string('init_from', None, 'Workdir, checkpoint dir or .npz to read.',
                      required=True)
  flags.DEFINE_string('export', '', 'Write its params and batch stats to this .npz.')


def main(argv):

  def run():
    if FLAGS.export:
      n = export_npz(FLAGS.init_from, FLAGS.export)
      print(f'wrote {n} arrays to {FLAGS.export}')
      return
    variables = load_variables(FLAGS.init_from)
    print(f'# {resolve(FLAGS.init_from)}')
    for c in COLLECTIONS:
      for name, value in sorted(variables[c].items()):
        print(f'{c}/{name}\t{list(value.shape)}\t{value.dtype}')

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
