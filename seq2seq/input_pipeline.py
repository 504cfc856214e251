"""Arithmetic problems as fixed-length character sequences (Keras `addition_rnn`).

A problem is `a op b` with operands of 1..num_digits digits, drawn as Keras
does: a length uniform in 1..num_digits, then digits uniform (leading zeros
collapse, so short numbers are over-represented). Questions are padded with
spaces to `2 * num_digits + 1` characters and, with `reverse_input`, reversed
as a whole (padding first), exactly like the Keras example; answers are padded
to `num_digits + 1` characters, which fits 999+999 = 1998 and 0-999 = -999.

The problem set is deterministic given the seed. No problem occurs twice
(`a+b` and `b+a` count as the same problem; `a-b` and `b-a` do not), and the
held-out test set is disjoint from the training set.
"""
import dataclasses
import re
from typing import Sequence, Tuple

import jax
import ml_collections
import numpy as np

from cnnlab.core.errors import UserError

DIGITS = '0123456789'
PAD = ' '
OPERATIONS = '+-'
# Above this the (a, b) keys (< 2 * 10**(2 * num_digits)) overflow int64.
MAX_DIGITS = 9
# When more than this fraction of all possible problems is asked for,
# rejection sampling slows down: enumerate them all and shuffle instead.
ENUMERATE_FRACTION = 0.5


def check_operation(operation: str) -> str:
  """`operation` ('+', '-' or a mix like '+-') validated; UserError otherwise."""
  if not operation or any(op not in OPERATIONS for op in operation) or (
      len(set(operation)) != len(operation)):
    raise UserError(f'operation={operation!r} (--config.operation): use one or more '
                    f'distinct characters of {OPERATIONS!r}, e.g. "+", "-" or "+-".')
  return operation


def vocabulary(operation: str) -> str:
  """The characters of questions and answers: '0123456789+ ' for addition.

  Subtraction answers reuse '-' as the minus sign, so '-' alone also gives 12
  characters and the mix '+-' gives 13.
  """
  return DIGITS + check_operation(operation) + PAD


def query_length(num_digits: int) -> int:
  return 2 * num_digits + 1


def answer_length(num_digits: int) -> int:
  return num_digits + 1


def parse_question(text: str, num_digits: int, operation: str) -> Tuple[int, str, int]:
  """'535-71' -> (535, '-', 71); UserError unless it is a problem of this kind."""
  match = re.fullmatch(r'\s*(\d+)\s*([+\-])\s*(\d+)\s*', text)
  if not match:
    raise UserError(f'{text!r} is not a question like "535-71".')
  a, op, b = match.groups()
  if op not in operation:
    raise UserError(f'{text!r}: the model was trained on {operation!r} only.')
  if max(len(a.lstrip('0') or '0'), len(b.lstrip('0') or '0')) > num_digits:
    raise UserError(f'{text!r}: the model was trained on operands of at most '
                    f'{num_digits} digits.')
  return int(a), op, int(b)


def apply(op: str, a: int, b: int) -> int:
  if op == '+':
    return a + b
  if op == '-':
    return a - b
  raise ValueError(op)


class CharacterTable:
  """Maps characters to integer ids and back, padding with spaces (Keras' table).

  The Keras example encodes straight to one-hot rows; here `encode` gives the
  ids (compact to store and gather) and the models one-hot them on device.
  `decode` also accepts one-hot rows or per-character probabilities, as
  Keras' `decode(x, calc_argmax=True)` does.
  """

  def __init__(self, chars: str):
    if len(set(chars)) != len(chars):
      raise ValueError(f'duplicate characters in {chars!r}')
    self.chars = chars
    self.char_indices = {c: i for i, c in enumerate(chars)}

  @property
  def size(self) -> int:
    return len(self.chars)

  def encode(self, text: str, num_rows: int) -> np.ndarray:
    """`text` right-padded with spaces to `num_rows` ids (int32 [num_rows])."""
    if len(text) > num_rows:
      raise ValueError(f'{text!r} is longer than {num_rows} characters')
    try:
      return np.array([self.char_indices[c] for c in text.ljust(num_rows, PAD)], np.int32)
    except KeyError as e:
      raise ValueError(f'{text!r} has a character outside {self.chars!r}') from e

  def encode_batch(self, texts: Sequence[str], num_rows: int) -> np.ndarray:
    """int32 [len(texts), num_rows]."""
    out = np.empty((len(texts), num_rows), np.int32)
    for i, text in enumerate(texts):
      out[i] = self.encode(text, num_rows)
    return out

  def decode(self, x) -> str:
    """ids [T] (or one-hot / probabilities [T, size], argmax taken) -> str, padding kept."""
    x = np.asarray(x)
    if x.ndim == 2:
      x = x.argmax(axis=-1)
    return ''.join(self.chars[i] for i in x)


@dataclasses.dataclass
class Split:
  """Problems of one split: their parts, their texts and their encodings."""
  a: np.ndarray  # int64 [N]
  op: np.ndarray  # <U1 [N], '+' or '-'
  b: np.ndarray  # int64 [N]
  inputs: np.ndarray  # int32 [N, query_length], reversed when reverse_input
  targets: np.ndarray  # int32 [N, answer_length]

  def __len__(self) -> int:
    return len(self.a)

  def question(self, i: int) -> str:
    return f'{self.a[i]}{self.op[i]}{self.b[i]}'

  def answer(self, i: int) -> str:
    return str(apply(self.op[i], int(self.a[i]), int(self.b[i])))


@dataclasses.dataclass
class Dataset:
  train: Split  # what the model trains on
  val: Split  # carved from the training problems: every decision (best, target) uses it
  test: Split  # disjoint from both, drawn apart: only ever reported
  table: CharacterTable
  num_digits: int
  reverse_input: bool
  reverse_target: bool

  @property
  def query_length(self) -> int:
    return query_length(self.num_digits)

  @property
  def answer_length(self) -> int:
    return answer_length(self.num_digits)

  def encode_questions(self, questions: Sequence[str]) -> np.ndarray:
    return encode_questions(self.table, questions, self.num_digits, self.reverse_input)

  def decode_answer(self, ids) -> str:
    """Model output ids [answer_length] -> the answer as written ('-464')."""
    return decode_answer(self.table, ids, self.reverse_target)


def encode_questions(table: CharacterTable, questions: Sequence[str], num_digits: int,
                     reverse_input: bool) -> np.ndarray:
  """Questions padded to query_length and (Keras) reversed with their padding."""
  width = query_length(num_digits)
  for q in questions:
    if len(q) > width:
      raise UserError(f'{q!r} is longer than {width} characters: operands have at most '
                      f'{num_digits} digits (--config.num_digits).')
  padded = [q.ljust(width, PAD) for q in questions]
  if reverse_input:
    padded = [q[::-1] for q in padded]
  try:
    return table.encode_batch(padded, width)
  except ValueError as e:
    raise UserError(f'{e}: questions look like "535-71".') from e


def encode_answers(table: CharacterTable, answers: Sequence[str], num_digits: int,
                   reverse_target: bool) -> np.ndarray:
  """Answers padded to answer_length; reversed first (least significant first) if asked."""
  if reverse_target:
    answers = [a[::-1] for a in answers]
  return table.encode_batch(answers, answer_length(num_digits))


def decode_answer(table: CharacterTable, ids, reverse_target: bool) -> str:
  text = table.decode(ids).strip(PAD)
  return text[::-1] if reverse_target else text


def num_problems(num_digits: int, operation: str) -> int:
  """How many distinct problems exist (a+b == b+a; a-b != b-a)."""
  n = 10**num_digits
  return sum(n * (n + 1) // 2 if op == '+' else n * n for op in operation)


def _keys(a: np.ndarray, op_index: np.ndarray, b: np.ndarray, operation: str,
          num_digits: int) -> np.ndarray:
  """One int64 per distinct problem: commutative operations sort (a, b)."""
  n = np.int64(10**num_digits)
  commutative = np.array([op == '+' for op in operation])[op_index]
  lo = np.where(commutative, np.minimum(a, b), a)
  hi = np.where(commutative, np.maximum(a, b), b)
  return (op_index * n + lo) * n + hi


def _sample_operands(rng: np.random.Generator, size: int, num_digits: int) -> np.ndarray:
  """Keras' numbers: a length uniform in 1..num_digits, then uniform digits."""
  lengths = rng.integers(1, num_digits + 1, size)
  return rng.integers(0, 10**lengths)


def sample_problems(num_examples: int, num_digits: int, operation: str,
                    seed: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """`num_examples` distinct problems (a, op_index, b), in a seeded order."""
  total = num_problems(num_digits, operation)
  if num_examples > total:
    raise UserError(
        f'{num_examples} problems asked for (train_size + test_size) but only {total} '
        f'distinct {num_digits}-digit {operation!r} problems exist: lower train_size / '
        'test_size or raise num_digits.')
  rng = np.random.default_rng(seed)
  if num_examples > ENUMERATE_FRACTION * total:
    # Nearly all problems are needed: shuffle the complete list (uniform over
    # problems rather than Keras' length-first draw, which would need many tries).
    n = 10**num_digits
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing='ij')
    parts = []
    for i, op in enumerate(operation):
      keep = (a <= b) if op == '+' else np.ones_like(a, bool)
      parts.append(np.stack([a[keep], np.full(keep.sum(), i), b[keep]], axis=1))
    allp = np.concatenate(parts)[rng.permutation(total)[:num_examples]]
    swap = rng.random(num_examples) < 0.5  # '+' problems were stored with a <= b
    plus = np.array([op == '+' for op in operation])[allp[:, 1]] & swap
    allp[plus, 0], allp[plus, 2] = allp[plus, 2], allp[plus, 0].copy()
    return allp[:, 0], allp[:, 1], allp[:, 2]
  a = np.zeros(0, np.int64)
  b = np.zeros(0, np.int64)
  op_index = np.zeros(0, np.int64)
  while True:
    draw = 2 * num_examples + 1024
    a = np.concatenate([a, _sample_operands(rng, draw, num_digits)])
    b = np.concatenate([b, _sample_operands(rng, draw, num_digits)])
    op_index = np.concatenate([op_index, rng.integers(0, len(operation), draw)])
    _, first = np.unique(_keys(a, op_index, b, operation, num_digits), return_index=True)
    if len(first) >= num_examples:
      # Keep the first occurrence of each problem, in draw order.
      keep = np.sort(first)[:num_examples]
      return a[keep], op_index[keep], b[keep]


def make_split(a, op_index, b, table: CharacterTable, operation: str, num_digits: int,
               reverse_input: bool, reverse_target: bool) -> Split:
  ops = np.array(list(operation))[op_index]
  questions = [f'{x}{o}{y}' for x, o, y in zip(a, ops, b)]
  answers = [str(apply(o, int(x), int(y))) for x, o, y in zip(a, ops, b)]
  return Split(a=a, op=ops, b=b,
               inputs=encode_questions(table, questions, num_digits, reverse_input),
               targets=encode_answers(table, answers, num_digits, reverse_target))


def create_dataset(config: ml_collections.ConfigDict) -> Dataset:
  """Train, val and test problems of config.operation, fixed by the data seed.

  train_size problems are drawn for training and val_size of them are carved
  out for validation (as Keras' addition_rnn splits its 50,000 questions);
  test_size more problems, all different from those, form the test set.
  """
  operation = check_operation(config.operation)
  num_digits = config.num_digits
  if not 1 <= num_digits <= MAX_DIGITS:
    raise UserError(f'num_digits={num_digits} (--config.num_digits): use 1..{MAX_DIGITS}.')
  if config.train_size < 1 or config.test_size < 1:
    raise UserError('train_size and test_size must be positive.')
  if not 1 <= config.val_size < config.train_size:
    raise UserError(f'val_size={config.val_size} must be at least 1 and below '
                    f'train_size={config.train_size} (it is carved from the training problems).')
  seed = config.seed if config.data_seed < 0 else config.data_seed
  table = CharacterTable(vocabulary(operation))
  a, op_index, b = sample_problems(config.train_size + config.test_size, num_digits,
                                   operation, seed)
  # The draw order is random, so the first train_size problems are a fair
  # sample (their last val_size validate) and the rest, all different, are the test set.
  split = lambda s: make_split(a[s], op_index[s], b[s], table, operation, num_digits,
                               config.reverse_input, config.reverse_target)
  n, v = config.train_size, config.val_size
  return Dataset(train=split(slice(0, n - v)), val=split(slice(n - v, n)),
                 test=split(slice(n, None)), table=table,
                 num_digits=num_digits, reverse_input=config.reverse_input,
                 reverse_target=config.reverse_target)


def problem_keys(split: Split, operation: str, num_digits: int) -> np.ndarray:
  """The identity of each problem (for overlap checks)."""
  op_index = np.array([operation.index(o) for o in split.op])
  return _keys(split.a, op_index, split.b, operation, num_digits)


def epoch_batches(key, epoch: int, num_examples: int, batch_size: int):
  """int32 [num_examples // batch_size, batch_size]: example indices of each step.

  The order is a permutation of fold_in(key, epoch), so any step's batch is a
  pure function of (key, step): a resumed run sees the batches the
  uninterrupted one would. The last partial batch is dropped.
  """
  perm = jax.random.permutation(jax.random.fold_in(key, epoch), num_examples)
  steps = num_examples // batch_size
  return perm[:steps * batch_size].reshape(steps, batch_size)
