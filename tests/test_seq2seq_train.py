"""The seq2seq training loop: it learns, and a resumed run equals an uninterrupted one."""
import functools
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnlab.core import history
from configs.seq2seq import base
from seq2seq import input_pipeline
from seq2seq import train


def tiny_config(**kwargs):
  """2-digit addition, 8 steps per epoch, 3 epochs: seconds on a CPU."""
  config = base.get_config()
  config.num_digits = 2
  config.train_size = 576  # 512 train + 64 val
  config.val_size = 64
  config.test_size = 64
  config.batch_size = 64
  config.eval_batch_size = 48  # 64 = 48 + 16 padded: exercises the mask
  config.num_epochs = 3
  config.model.name = 'encoder_decoder'
  config.model.hidden_size = 16
  config.model.unroll = False  # compiles faster; the maths is tested both ways
  config.optimizer.lr = 1e-2
  config.log_every_steps = 1
  config.num_samples = 2
  config.update(kwargs)
  return config


def test_format_sample():
  assert train.format_sample('535-71', '464', '464', 3) == 'Q 535-71   T 464   \u2611 464'
  line = train.format_sample('1+1', '2', '3', 1, color=True)
  assert line == 'Q 1+1  T 2   \033[91m\u2612\033[0m 3'


def test_tiny_run_learns_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
  config = tiny_config()
  full = train.train_and_evaluate(config, str(tmp_path / 'full'), verbose=False)
  records = history.read(str(tmp_path / 'full'))
  assert [r['step'] for r in records] == [8, 16, 24]
  assert records[-1]['val_loss'] < records[0]['val_loss'] < np.log(12)
  assert records[-1]['test_loss'] < records[0]['test_loss'] < np.log(12)
  assert records[-1]['train_loss'] < records[0]['train_loss']
  for r in records:
    for split in ('train', 'val', 'test'):
      assert 0 <= r[f'{split}_accuracy'] <= r[f'{split}_char_accuracy'] <= 1
    assert r['examples'] == 64 * r['step'] and r['lr'] == pytest.approx(1e-2)
    assert r['examples_per_sec'] > 0 and r['elapsed_seconds'] > 0

  # Padded, masked evaluation is exact: batches of 48 (64 = 48 + 16 padded)
  # agree with one batch of 64, and with what the run recorded.
  dataset = input_pipeline.create_dataset(config)
  eval_fn = functools.partial(train.eval_step, full['state'].apply_fn)
  m48, p48 = train.evaluate(eval_fn, full['state'].params, dataset.test, 48)
  m64, p64 = train.evaluate(eval_fn, full['state'].params, dataset.test, 64)
  np.testing.assert_array_equal(p48, p64)
  assert m48['accuracy'] == m64['accuracy'] == records[-1]['test_accuracy']
  assert m48['loss'] == pytest.approx(m64['loss'], rel=1e-5)

  # The trained run answers questions (from its best checkpoint).
  answers = train.predict(str(tmp_path / 'full'), ['12+3', '99 + 99'])
  assert [line.split('T')[0] for _, line in answers] == ['Q 12+3   ', 'Q 99+99  ']
  assert all(a.lstrip('-').isdigit() or a == '' for a, _ in answers)
  with pytest.raises(train.UserError, match="trained on '\\+' only"):
    train.predict(str(tmp_path / 'full'), ['12-3'])

  # Ctrl-C at step 13 (mid-epoch, between evaluations) saves step 13...
  class InterruptingBar(train.ProgressBar):

    def update(self, done, **metrics):
      if done == 13:
        raise KeyboardInterrupt
      super().update(done, **metrics)

  workdir = str(tmp_path / 'resumed')
  monkeypatch.setattr(train, 'ProgressBar', InterruptingBar)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, workdir, verbose=False)
  monkeypatch.undo()
  # ...and rerunning continues from it to the same parameters, bit for bit.
  resumed = train.train_and_evaluate(config, workdir, verbose=False)
  assert int(resumed['state'].step) == 24
  jax.tree_util.tree_map(np.testing.assert_array_equal, full['state'].params,
                         resumed['state'].params)
  jax.tree_util.tree_map(np.testing.assert_array_equal, full['state'].opt_state,
                         resumed['state'].opt_state)
  # Held-out metrics too (train_* average only the steps run since the
  # last evaluation in this process, so they differ after a resume).
  held_out = lambda rs: [{k: v for k, v in r.items()
                          if not k.startswith(('train', 'elapsed', 'examples_per_s'))}
                         for r in rs]
  assert held_out(history.read(workdir)) == held_out(records)


def test_resume_refuses_a_different_experiment(tmp_path):
  config = tiny_config(num_epochs=1)
  train.train_and_evaluate(config, str(tmp_path), verbose=False)
  with pytest.raises(train.UserError, match=r"config.operation='\+'.*config.operation='-'"):
    train.train_and_evaluate(tiny_config(operation='-'), str(tmp_path), verbose=False)


def test_main_reports_a_bad_model_name_and_exits_2(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'seq2seq.main', f'--workdir={tmp_path}',
       '--config=configs/seq2seq/subtract.py', '--config.model.name=keras',
       '--config.train_size=100', '--config.val_size=10', '--config.test_size=10',
       '--config.batch_size=10'],
      capture_output=True, text=True, timeout=120,
      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert proc.returncode == 2, proc.stderr
  assert "Unknown model 'keras' (--config.model.name)" in proc.stderr
  assert 'keras_lstm' in proc.stderr and 'Traceback' not in proc.stderr


def test_metrics_known_answer_with_one_wrong_character_and_a_padded_row():
  # 3 rows of 4 characters over a vocabulary of 5: row 0 all right, row 1 one
  # character wrong, row 2 padding (mask 0) that is all wrong.
  targets = np.array([[1, 2, 3, 4], [0, 0, 1, 1], [2, 2, 2, 2]], np.int32)
  predicted = np.array([[1, 2, 3, 4], [0, 3, 1, 1], [0, 0, 0, 0]], np.int32)
  logits = np.full((3, 4, 5), -2.0, np.float32)
  np.put_along_axis(logits, predicted[..., None], 2.0, axis=-1)
  mask = np.array([1.0, 1.0, 0.0], np.float32)
  sums = train.compute_metrics(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(mask))
  metrics = train.mean_metrics(sums)
  assert float(sums['count']) == 2.0
  assert metrics['accuracy'] == 0.5  # exact match: row 0 only; the padded row does not count
  assert metrics['char_accuracy'] == pytest.approx((4 + 3) / 8)
  # Loss: a right character costs -log softmax at +2 among four -2s; a wrong one
  # the same logits read at a -2.
  right = -np.log(np.exp(2) / (np.exp(2) + 4 * np.exp(-2)))
  wrong = -np.log(np.exp(-2) / (np.exp(2) + 4 * np.exp(-2)))
  assert metrics['loss'] == pytest.approx((4 * right + 3 * right + wrong) / 4 / 2, rel=1e-5)


def test_val_decides_and_the_test_set_is_only_reported(tmp_path):
  dataset = input_pipeline.create_dataset(tiny_config())
  keys = {name: set(input_pipeline.problem_keys(getattr(dataset, name), '+', 2))
          for name in ('train', 'val', 'test')}
  assert (len(dataset.train), len(dataset.val), len(dataset.test)) == (512, 64, 64)
  assert not keys['train'] & keys['val'] and not keys['train'] & keys['test']
  assert not keys['val'] & keys['test']
  # The best checkpoint is the first evaluation with the highest val accuracy,
  # and target_accuracy stops on val.
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(num_epochs=4), workdir, verbose=False)
  records = history.read(workdir)
  best = max(records, key=lambda r: r['val_accuracy'])
  assert train.Checkpoints(workdir).best_step() == best['step']
  target = records[1]['val_accuracy']
  if target > records[0]['val_accuracy']:  # (it learns: val exact match rises by step 16)
    stopped = train.train_and_evaluate(tiny_config(num_epochs=4, target_accuracy=target),
                                       str(tmp_path / 'target'), verbose=False)
    assert stopped['step'] == next(r['step'] for r in records if r['val_accuracy'] >= target)
  with pytest.raises(train.UserError, match='val_size=600 must be at least 1 and below'):
    input_pipeline.create_dataset(tiny_config(val_size=600))


def test_a_nan_state_is_never_saved_and_the_rerun_resumes(tmp_path, monkeypatch):
  # The update of step 16 makes the weights NaN while every loss so far is finite:
  # the guard's state check before the save at step 16 stops the run.
  real = train.train_step_on

  def poisoned(state, data, indices):
    state, metrics = real(state, data, indices)
    if int(state.step) == 16:
      state = state.replace(params=jax.tree_util.tree_map(lambda p: p * jnp.nan, state.params))
    return state, metrics

  workdir = str(tmp_path / 'run')
  monkeypatch.setattr(train, 'train_step_on', poisoned)
  with pytest.raises(train.TrainingDiverged,
                     match=r'weights or optimizer state.*between steps 9 and 16.*is step 8'):
    train.train_and_evaluate(tiny_config(), workdir, verbose=False)
  monkeypatch.undo()
  ckpts = train.Checkpoints(workdir)
  assert ckpts.latest_step() == 8
  ckpts.close()
  assert [r['step'] for r in history.read(workdir)] == [8]
  resumed = train.train_and_evaluate(tiny_config(), workdir, verbose=False)
  assert int(resumed['state'].step) == 24
  assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(resumed['state'].params))

