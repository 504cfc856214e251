"""A run's workdir: its meta.json, the checks before resuming into it, the restore.

  meta.json     model, image shape, classes, label values, augmentation, config
  checkpoints/  see cnnlab.core.checkpoints
"""
import json
import logging
import os
from typing import Any, Dict

from cnnlab.core import checkpoints
from cnnlab.core.errors import UserError

META_FILE = 'meta.json'


def check_workdir(workdir: str, meta: Dict[str, Any]) -> None:
  """Refuses to resume a workdir whose checkpoints are of another model or data shape."""
  path = os.path.join(workdir, META_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    old = json.load(f)
  for key in ('model', 'image_shape', 'num_classes', 'augment'):
    if old.get(key) != meta[key]:
      raise UserError(
          f'workdir {workdir!r} holds a run with {key}={old.get(key)!r}, but this config '
          f'has {key}={meta[key]!r}: resuming would mix them. Use a new --workdir, or '
          'delete the old one to start over.')


def write_meta(workdir: str, meta: Dict[str, Any]) -> None:
  tmp = os.path.join(workdir, META_FILE + '.tmp')
  with open(tmp, 'w') as f:
    json.dump(meta, f, indent=2)
  os.replace(tmp, os.path.join(workdir, META_FILE))


def read_meta(workdir: str) -> Dict[str, Any]:
  path = os.path.join(workdir, META_FILE)
  if not os.path.exists(path):
    raise UserError(f'{workdir!r} is not a cnnlab workdir (no {META_FILE}): pass the '
                    '--workdir of a training run')
  with open(path) as f:
    return json.load(f)


def restore_or_init(ckpts: checkpoints.Checkpoints, state: Any, workdir: str) -> Any:
  if ckpts.latest_step() is None:
    return state
  try:
    state = ckpts.restore(state)
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f'cannot resume from the checkpoint in {workdir!r} ({e}); it was '
                    'written by a different model or optimizer: use a new --workdir') from e
  logging.info('Resumed from step %d in %s', int(state.step), workdir)
  return state
