"""Name -> implementation registries, so a config string picks the code.

Modelled on big_vision's `pp/registry.py`: registering a name twice is a bug,
and an unknown name lists the known ones (and the closest match) instead of a
bare KeyError.
"""
import difflib
from typing import Any, Callable, Dict, List

from cnnlab.core.errors import UserError


class Registry:
  """A named table of implementations of one kind (models, optimizers...)."""

  def __init__(self, kind: str, config_field: str = ''):
    self.kind = kind
    self.config_field = config_field
    self._entries: Dict[str, Any] = {}

  def register(self, name: str) -> Callable[[Any], Any]:
    """Decorator that records `fn` under `name`; refuses duplicates."""

    def decorator(fn):
      if name in self._entries:
        raise ValueError(f'{self.kind} {name!r} is registered twice')
      self._entries[name] = fn
      return fn

    return decorator

  def add(self, name: str, fn: Any) -> None:
    self.register(name)(fn)

  def get(self, name: str) -> Any:
    if name not in self._entries:
      known = ', '.join(sorted(self._entries))
      close = difflib.get_close_matches(name, self._entries, n=1)
      hint = f' Did you mean {close[0]!r}?' if close else ''
      field = f' (--config.{self.config_field})' if self.config_field else ''
      raise UserError(
          f'Unknown {self.kind} {name!r}{field}.{hint} Known {self.kind}s: {known}.')
    return self._entries[name]

  def names(self) -> List[str]:
    return sorted(self._entries)

  def __contains__(self, name: str) -> bool:
    return name in self._entries
