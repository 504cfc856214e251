"""Config files found from any working directory, and loaded with checked overrides.

A config is `configs/<name>.py` (`configs/vgg.py`, `configs/seq2seq/addition.py`)
with a `get_config()`. The `configs` package is installed with cnnlab, so

  resolve_path('configs/vgg.py')   # the file, from whatever directory
  load('vgg', overrides={'optimizer.lr': 1e-3, 'num_epochs': 2})

work anywhere, and every command's `--config=` flag goes through
`resolve_path` (cnnlab.core.cli.parse_flags). A path that exists relative to
the working directory always wins, so a config file of your own is used as
given.
"""
import difflib
import importlib.util
import itertools
import os
from typing import Any, List, Mapping, Optional

import ml_collections

from cnnlab.core.errors import UserError

PACKAGE = 'configs'
_loaded = itertools.count()


def configs_dir() -> str:
  """The installed `configs` package's folder (a checkout's configs/ when run from source)."""
  try:
    spec = importlib.util.find_spec(PACKAGE)
  except (ImportError, ValueError):
    spec = None
  if spec is not None and spec.submodule_search_locations:
    return os.path.abspath(list(spec.submodule_search_locations)[0])
  # Not importable (an install that predates configs being a package): the
  # checkout beside this package, cnnlab/core/ -> <checkout>/configs.
  return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__)))), PACKAGE)


def names() -> List[str]:
  """The available config names: 'airbench', ..., 'vgg', 'seq2seq/addition', ..."""
  root = configs_dir()
  found = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '_')))
    rel = os.path.relpath(folder, root)
    for f in sorted(files):
      if f.endswith('.py') and not f.startswith('_'):
        stem = f[:-3] if rel == '.' else os.path.join(rel, f[:-3])
        found.append(stem.replace(os.sep, '/'))
  return sorted(found, key=lambda n: (n.count('/'), n))


def resolve_path(path: str) -> str:
  """The config file `path` names, from any working directory.

  Tried in order: `path` relative to the working directory (or absolute); the
  same relative path under the `configs` package's parent folder
  ('configs/vgg.py', 'configs/seq2seq/addition.py'); a name inside configs/
  with or without '.py' ('vgg', 'seq2seq/addition').

  Raises:
    UserError: nothing matches; the message lists the available names.
  """
  root = configs_dir()
  candidates = [path]
  if not os.path.isabs(path):
    candidates.append(os.path.join(os.path.dirname(root), path))
    name = path.replace('\\', '/')
    if name.startswith(PACKAGE + '/'):
      name = name[len(PACKAGE) + 1:]
    candidates += [os.path.join(root, name), os.path.join(root, name + '.py')]
  for candidate in candidates:
    if os.path.isfile(candidate) and candidate.endswith('.py'):
      return candidate
  available = names()
  stem = path.replace('\\', '/')
  stem = stem[len(PACKAGE) + 1:] if stem.startswith(PACKAGE + '/') else stem
  stem = stem[:-3] if stem.endswith('.py') else stem
  close = difflib.get_close_matches(stem, available, n=3, cutoff=0.5)
  hint = f' Did you mean {" or ".join(close)}?' if close else ''
  raise UserError(
      f'no config file {path!r} (looked in {os.getcwd()} and {root}).{hint} Available '
      f'configs: {", ".join(available)} (a name, or configs/<name>.py from any directory).')


def field_names(config: ml_collections.ConfigDict, prefix: str = '') -> List[str]:
  """Every field of `config` as a dotted name, sections included ('optimizer', 'optimizer.lr')."""
  out = []
  for key, value in config.items():
    out.append(prefix + key)
    if isinstance(value, ml_collections.ConfigDict):
      out += field_names(value, f'{prefix}{key}.')
  return out


def _unknown_field(config: ml_collections.ConfigDict, key: str, source: str) -> UserError:
  fields = field_names(config)
  close = difflib.get_close_matches(key, fields, n=5, cutoff=0.6)
  section = key.rpartition('.')[0]
  if close:
    listing = f'close fields: {", ".join(close)}'
  elif section in fields:
    listing = f'fields of {section}: {", ".join(sorted(config[section].keys()))}'
  else:
    listing = f'top-level fields: {", ".join(sorted(config.keys()))}'
  return UserError(f'unknown config field {key!r} in the overrides of {source} ({listing}); '
                   'every field is defined in configs/base.py (configs/seq2seq/base.py for '
                   'seq2seq)')


def apply_overrides(config: ml_collections.ConfigDict, overrides: Mapping[str, Any],
                    source: str = 'the config') -> ml_collections.ConfigDict:
  """Sets {'optimizer.lr': 1e-3, ...} on `config` (in place) as --config.<field>= would.

  A field the config does not define, and a value ml_collections cannot cast to
  the field's type (an int field given 2.5, a float field given '3'), are
  UserErrors; an int given to a float field becomes a float.
  """
  for key, value in overrides.items():
    *path, leaf = str(key).split('.')
    target = config
    for i, part in enumerate(path + [leaf]):
      if not isinstance(target, ml_collections.ConfigDict) or part not in target:
        raise _unknown_field(config, key, source)
      if i < len(path):
        target = target[part]
    try:
      target[leaf] = value
    except (TypeError, ValueError) as e:
      raise UserError(f'config field {key!r} cannot be set to {value!r}: {e}') from None
  return config


def load(name_or_path: str, overrides: Optional[Mapping[str, Any]] = None,
         lock: bool = True) -> ml_collections.ConfigDict:
  """The ConfigDict of a config file's get_config(), with `overrides` applied.

  Args:
    name_or_path: a name ('vgg', 'seq2seq/addition') or a path as `resolve_path`
      takes it ('configs/vgg.py', 'my_config.py').
    overrides: {dotted field: value}, e.g. {'optimizer.lr': 1e-3, 'num_epochs': 2}.
    lock: lock the config (as the commands do), so a later typo such as
      `config.num_epoch = 3` is an error instead of a new, unused field.

  Raises:
    UserError: no such config, an unknown field, or a value of the wrong type.
  """
  path = resolve_path(name_or_path)
  module_name = f'_cnnlab_config_{next(_loaded)}'
  spec = importlib.util.spec_from_file_location(module_name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, 'get_config'):
    raise UserError(f'{path!r} defines no get_config(): is it a config file?')
  config = module.get_config()
  if not isinstance(config, ml_collections.ConfigDict):
    raise UserError(f'get_config() of {path!r} returned a {type(config).__name__}, '
                    'not an ml_collections.ConfigDict')
  if lock:
    config.lock()
  return apply_overrides(config, overrides or {}, name_or_path)
