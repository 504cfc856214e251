"""Problem generation, encoding and epoch order of the seq2seq lab."""
import ml_collections
import numpy as np
import jax
import pytest

from cnnlab.core.errors import UserError
from seq2seq import input_pipeline as ip


def make_config(**kwargs):
  config = ml_collections.ConfigDict(dict(
      operation='+', num_digits=3, reverse_input=True, reverse_target=False,
      train_size=2000, val_size=200, test_size=500, seed=0, data_seed=-1))
  config.update(kwargs)
  return config


def test_vocabulary_sizes():
  assert ip.vocabulary('+') == '0123456789+ '  # Keras' 12 characters
  assert len(ip.vocabulary('-')) == 12
  assert len(ip.vocabulary('+-')) == 13
  for bad in ('', '*', '++', '+x'):
    with pytest.raises(UserError, match='operation'):
      ip.vocabulary(bad)


def test_character_table_round_trip():
  table = ip.CharacterTable(ip.vocabulary('+-'))
  for text in ('535-71', '0', '999+999', '-464', ''):
    ids = table.encode(text, 7)
    assert ids.shape == (7,) and ids.dtype == np.int32
    assert table.decode(ids) == text.ljust(7)
    # One-hot rows decode too (Keras' calc_argmax).
    assert table.decode(np.eye(table.size)[ids]) == text.ljust(7)
  with pytest.raises(ValueError):
    table.encode('12345678', 7)
  with pytest.raises(ValueError):
    table.encode('1*2', 7)


def test_question_padding_and_reversal_as_keras():
  table = ip.CharacterTable(ip.vocabulary('+'))
  ids = ip.encode_questions(table, ['12+3'], num_digits=3, reverse_input=True)
  assert table.decode(ids[0]) == '   3+21'
  ids = ip.encode_questions(table, ['12+3'], num_digits=3, reverse_input=False)
  assert table.decode(ids[0]) == '12+3   '
  with pytest.raises(UserError):
    ip.encode_questions(table, ['1234+567'], num_digits=3, reverse_input=True)


@pytest.mark.parametrize('operation', ['+', '-', '+-'])
def test_no_duplicates_and_val_and_test_disjoint_from_train(operation):
  ds = ip.create_dataset(make_config(operation=operation))
  train = ip.problem_keys(ds.train, operation, 3)
  val = ip.problem_keys(ds.val, operation, 3)
  test = ip.problem_keys(ds.test, operation, 3)
  assert len(train) == 1800 and len(val) == 200 and len(test) == 500
  every = np.concatenate([train, val, test])
  assert len(np.unique(every)) == len(every)
  if operation == '+':
    # a+b and b+a are one problem: the reversed train pairs are not held out.
    swapped = {(b, a) for a, b in zip(ds.train.a, ds.train.b)}
    assert not swapped & set(zip(ds.test.a, ds.test.b))
  if '+' in operation and '-' in operation:
    assert set(ds.train.op) == {'+', '-'}


def test_fixed_by_seed():
  a = ip.create_dataset(make_config(seed=3))
  b = ip.create_dataset(make_config(seed=3))
  c = ip.create_dataset(make_config(seed=4))
  d = ip.create_dataset(make_config(seed=4, data_seed=3))
  np.testing.assert_array_equal(a.train.inputs, b.train.inputs)
  np.testing.assert_array_equal(a.test.targets, b.test.targets)
  assert not np.array_equal(a.train.inputs, c.train.inputs)
  np.testing.assert_array_equal(a.train.inputs, d.train.inputs)


def test_subtraction_answers_include_negatives():
  ds = ip.create_dataset(make_config(operation='-'))
  answers = [ds.decode_answer(t) for t in ds.train.targets]
  expected = [int(a) - int(b) for a, b in zip(ds.train.a, ds.train.b)]
  assert [int(x) for x in answers] == expected
  assert min(expected) < 0 and max(expected) > 0
  # -999 is the longest answer and fits num_digits + 1 characters.
  table = ds.table
  assert ds.decode_answer(ip.encode_answers(table, ['-999'], 3, False)[0]) == '-999'
  # The questions decode to the problems too (input reversed as a whole).
  assert table.decode(ds.train.inputs[0])[::-1].strip() == ds.train.question(0)


def test_reverse_target_round_trip():
  table = ip.CharacterTable(ip.vocabulary('-'))
  ids = ip.encode_answers(table, ['-464', '7'], 3, reverse_target=True)
  assert table.decode(ids[0]) == '464-' and table.decode(ids[1]) == '7   '
  assert [ip.decode_answer(table, i, True) for i in ids] == ['-464', '7']


def test_all_problems_when_asked_for_nearly_all():
  # 1-digit addition has 55 distinct problems; asking for all enumerates them.
  ds = ip.create_dataset(make_config(num_digits=1, train_size=50, val_size=5, test_size=5))
  pairs = {tuple(sorted(p)) for p in zip(np.r_[ds.train.a, ds.val.a, ds.test.a],
                                         np.r_[ds.train.b, ds.val.b, ds.test.b])}
  assert len(pairs) == 55 == ip.num_problems(1, '+')
  with pytest.raises(UserError, match='only 55'):
    ip.create_dataset(make_config(num_digits=1, train_size=50, val_size=5, test_size=6))
  assert ip.num_problems(1, '-') == 100


def test_epoch_batches_is_a_seeded_permutation():
  key = jax.random.key(0)
  first = np.asarray(ip.epoch_batches(key, 0, 100, 32))
  assert first.shape == (3, 32)
  assert len(np.unique(first)) == 96
  np.testing.assert_array_equal(first, ip.epoch_batches(key, 0, 100, 32))
  assert not np.array_equal(first, ip.epoch_batches(key, 1, 100, 32))
