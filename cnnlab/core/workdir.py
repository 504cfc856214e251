"""A run's workdir, for both labs: its meta.json, the checks before resuming, the restores.

  meta.json     what the run is: its lab, model, config (cnnlab adds image
                shape, classes, label values, augmentation, data)
  checkpoints/  see cnnlab.core.checkpoints

A resumed run must be the same experiment: `check_workdir` compares the
fields of meta that the lab names (`keys`) and refuses, untouched, a workdir
holding another. `load_config` and `restore_chosen` are the run loader of
evaluation and prediction: the run's meta and config, then its best (or a
given) checkpoint.
"""
import json
import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

import ml_collections

from cnnlab.core import checkpoints
from cnnlab.core.errors import UserError

META_FILE = 'meta.json'
# seq2seq workdirs written before meta.json kept only their config here.
LEGACY_CONFIG_FILE = 'config.json'


def flat_fields(tree: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
  """{'config.model.name': ..., ...}: every leaf of a nested dict under its dotted path."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict) and value:
      out.update(flat_fields(value, f'{prefix}{key}.'))
    else:
      out[prefix + key] = value
  return out


def config_keys(config: Dict[str, Any], resumable: Iterable[str] = ()) -> List[str]:
  """The dotted meta keys of every config field but `resumable` (top-level names)."""
  return sorted(k for k in flat_fields({'config': config})
                if k.split('.')[1] not in set(resumable))


def check_workdir(workdir: str, meta: Dict[str, Any], keys: Iterable[str]) -> None:
  """Refuses to resume a workdir whose run differs from `meta` in one of `keys`.

  keys: dotted paths to leaves of meta ('model', 'image_shape',
  'config.operation'); a key the old run lacks counts as a difference. Does
  nothing in a workdir without a checkpoint: nothing there to mix with (a
  rerun after a divergence before the first save may change anything).
  """
  if not (is_run(workdir) and has_checkpoint(workdir)):
    return
  old = read_meta(workdir)
  old_fields, new_fields = flat_fields(old), flat_fields(meta)
  differ = [k for k in keys if old_fields.get(k) != new_fields.get(k)]
  if differ:
    there = ', '.join(f'{k}={old_fields.get(k)!r}' for k in differ)
    here = ', '.join(f'{k}={new_fields.get(k)!r}' for k in differ)
    raise UserError(
        f'workdir {workdir!r} holds a run with {there}, but this config has {here}: resuming '
        'would mix them. Use a new --workdir, or delete the old one to start over.')


def has_checkpoint(workdir: str) -> bool:
  """Whether a periodic or best checkpoint was ever finalized in `workdir`."""
  return any(name.isdigit() for sub in (checkpoints.LATEST_DIR, checkpoints.BEST_DIR)
             if os.path.isdir(os.path.join(workdir, sub))
             for name in os.listdir(os.path.join(workdir, sub)))


def is_run(workdir: str) -> bool:
  return any(os.path.exists(os.path.join(workdir, f)) for f in (META_FILE, LEGACY_CONFIG_FILE))


def write_meta(workdir: str, meta: Dict[str, Any]) -> None:
  tmp = os.path.join(workdir, META_FILE + '.tmp')
  with open(tmp, 'w') as f:
    json.dump(meta, f, indent=2)
  os.replace(tmp, os.path.join(workdir, META_FILE))


def read_meta(workdir: str) -> Dict[str, Any]:
  """The run's meta.json; an old seq2seq workdir's config.json reads as its meta."""
  path = os.path.join(workdir, META_FILE)
  legacy = os.path.join(workdir, LEGACY_CONFIG_FILE)
  if not os.path.exists(path) and os.path.exists(legacy):
    try:
      with open(legacy) as f:
        config = json.load(f)
      return {'lab': 'seq2seq', 'model': config.get('model', {}).get('name'), 'config': config}
    except FileNotFoundError:  # process 0 converted it meanwhile: meta.json is there now
      pass
  if not os.path.exists(path):
    raise UserError(f'{workdir!r} is not a cnnlab workdir (no {META_FILE}): pass the '
                    '--workdir of a training run')
  with open(path) as f:
    return json.load(f)


def load_config(workdir: str, lab: str = 'cnnlab'
                ) -> Tuple[Dict[str, Any], ml_collections.ConfigDict]:
  """(meta, config) of the run in `workdir`, refusing another lab's run."""
  meta = read_meta(workdir)
  if meta.get('lab', 'cnnlab') != lab:
    command = 'seq2seq.main' if meta.get('lab') == 'seq2seq' else 'cnnlab.evaluate'
    raise UserError(f'{workdir!r} holds a {meta.get("lab", "cnnlab")} run, not a {lab} one: '
                    f'use python -m {command}')
  return meta, ml_collections.ConfigDict(meta['config'])


def restore_or_init(ckpts: checkpoints.Checkpoints, state: Any, workdir: str) -> Any:
  """The latest periodic checkpoint restored into `state`'s structure, or `state` itself."""
  if ckpts.latest_step() is None:
    return state
  try:
    state = ckpts.restore(state)
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f'cannot resume from the checkpoint in {workdir!r} ({e}); it was '
                    'written by a different model or optimizer: use a new --workdir') from e
  logging.info('Resumed from step %d in %s', int(state.step), workdir)
  return state


def restore_chosen(workdir: str, template: Any, step: Optional[int] = None,
                   best: bool = True) -> Any:
  """The run's chosen checkpoint restored into `template`: the best by val (the latest
  periodic one when there is no best, or with best=False), or the one at `step`."""
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    if step is None:
      best = best and ckpts.best_step() is not None
      if (ckpts.best_step() if best else ckpts.latest_step()) is None:
        raise UserError(f'{workdir!r} has no checkpoint yet: train first, or pass another '
                        '--workdir')
      return ckpts.restore(template, best=best)
    try:
      where = checkpoints.find_step(workdir, step)
    except FileNotFoundError:
      available = sorted(set(ckpts.latest.all_steps()) | set(ckpts.best.all_steps()))
      raise UserError(f'no checkpoint at step {step} in {workdir!r}; available: '
                      f'{available}') from None
    return ckpts.restore(template, step=step, best=where == checkpoints.BEST_DIR)
  finally:
    ckpts.close()
