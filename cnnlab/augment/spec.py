"""The spec mini-language: 'flip_lr|translate(0.1)|rotate(8, fill_mode="constant")'.

Splits a spec on top-level '|', parses each item as a registered op name with
Python literal arguments into an op instance (`parse_op`), and describes the
registered ops (`describe_ops`, `--list_ops`). Pipelines are built from the
parsed ops in pipeline.py (`create_pipeline`).
"""
import ast
import inspect
from typing import Iterator

from cnnlab.augment.ops import OPS, Op
from cnnlab.core.errors import UserError


# ---- the mini-language ----------------------------------------------------------
def _split_top_level(spec: str) -> Iterator[str]:
  """Splits on '|' outside brackets and quotes."""
  depth, quote, start = 0, None, 0
  for i, ch in enumerate(spec):
    if quote:
      quote = None if ch == quote else quote
    elif ch in '\'"':
      quote = ch
    elif ch in '([{':
      depth += 1
    elif ch in ')]}':
      depth -= 1
    elif ch == '|' and depth == 0:
      yield spec[start:i]
      start = i + 1
  yield spec[start:]


def _tuples(value):
  """Lists become tuples (hashable ops), recursively."""
  if isinstance(value, (list, tuple)):
    return tuple(_tuples(v) for v in value)
  return value


def _known_ops() -> str:
  return f'Known augmentation ops: {", ".join(OPS.names())}.'


def _usage(cls) -> str:
  """'rotate(degrees=0.0, fill_mode=None, ...)' from the op's fields."""
  params = inspect.signature(cls).parameters.values()
  return f'{cls.name}({", ".join(f"{p.name}={p.default!r}" for p in params)})'


def describe_ops() -> str:
  """One line per op: its usage and the first line of its docstring."""
  lines = []
  for name in OPS.names():
    cls = OPS.get(name)
    summary = (cls.__doc__ or '').strip().splitlines()[0]
    lines.append(f'{_usage(cls)}\n    {cls.kind}: {summary}')
  return '\n'.join(lines)


def parse_op(text: str) -> Op:
  """'name' or 'name(literal args)' -> an op instance; UserError on any problem."""
  item = text.strip()
  where = f'in --config.augment item {item!r}'
  try:
    node = ast.parse(item, mode='eval').body
  except SyntaxError as e:
    raise UserError(f'Bad syntax {where}: {e.msg}. Write name or name(args), '
                    f'e.g. rotate(8). {_known_ops()}') from None
  if isinstance(node, ast.Name):
    name, args, kwargs = node.id, [], {}
  elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
    name = node.func.id
    try:
      args = [_tuples(ast.literal_eval(a)) for a in node.args]
      kwargs = {k.arg: _tuples(ast.literal_eval(k.value)) for k in node.keywords}
    except ValueError:
      raise UserError(f'Bad argument {where}: arguments must be literals '
                      '(numbers, strings, tuples, True/False/None).') from None
    if any(k is None for k in kwargs):
      raise UserError(f'Bad argument {where}: **kwargs are not supported.')
  else:
    raise UserError(f'Bad syntax {where}: write name or name(args), e.g. rotate(8). '
                    f'{_known_ops()}')
  cls = OPS.get(name)
  try:
    return cls(*args, **kwargs)
  except TypeError as e:
    message = str(e).replace(f'{cls.__name__}.__init__()', name)
    raise UserError(f'Bad arguments {where}: {message}. Usage: {_usage(cls)}') from None
  except UserError as e:
    raise UserError(f'Bad arguments {where}: {e}. Usage: {_usage(cls)}') from None
