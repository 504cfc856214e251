"""Multi-process training on localhost: 2 processes x 2 CPU devices == 1 x 4.

Runs `python -m cnnlab.main` three times on a generated .npz:
  A  2 processes x 2 fake CPU devices (launch/local_multiprocess.sh, gloo), 8 steps
  B  1 process x 4 fake CPU devices, 8 steps from scratch
  C  1 process resuming A's step-4 checkpoint (written by 2 processes) to step 8
and compares the checkpointed train states. A and B run side by side. Every
run is bounded in time and its whole process group is killed on timeout or
failure. A persistent compilation cache in tmp_path lets C reuse B's programs.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(REPO, 'launch', 'local_multiprocess.sh')
STEPS = 8  # 2 epochs of 4 steps: covers the epoch reshuffle and an evaluation
RUN_TIMEOUT_S = 150  # per run; a hang (a process stuck in a collective) fails fast
ATOL = 1e-5  # float32 sums in a different order; a wrong data split is off by ~1e-2


def _make_data(path):
  """40 8x8 RGB images of 4 classes (val 20% -> 32 train = 4 batches of 8)."""
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(4), 10)
  images = rng.normal(0, 30, (40, 8, 8, 3)) + 60 + 40 * labels[:, None, None, None]
  np.savez(path, images=np.clip(images, 0, 255).astype(np.uint8), labels=labels)


def _args(data, tmp_path, workdir):
  return [
      '-m', 'cnnlab.main', '--config=configs/base.py', f'--workdir={workdir}',
      '--config.data.name=arrays', f'--config.data.dir={data}',
      f'--config.data.cache_dir={tmp_path / "cache"}', '--config.data.val_fraction=0.2',
      # BatchNorm (global batch statistics) and random augmentation: both must
      # not depend on how the batch is split over devices and processes.
      '--config.model.name=fashion_brief', '--config.augment=flip_lr',
      '--config.batch_size=8', '--config.eval_batch_size=8',
      f'--config.num_train_steps={STEPS}', '--config.checkpoint_every_steps=2',
      '--config.max_checkpoints_to_keep=4', '--config.log_every_steps=1']


def _env(tmp_path, devices):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_COMPILATION_CACHE_DIR=str(tmp_path / 'jax_cache'),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
             JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0')
  for name in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID',
               'SLURM_STEP_NUM_TASKS', 'TPU_WORKER_HOSTNAMES'):
    env.pop(name, None)
  return env


class _Run:
  """`cmd` in its own process group, bounded in time; the group dies on timeout."""

  def __init__(self, name, cmd, env, tmp_path):
    self.name, self.tmp_path, self.start = name, tmp_path, time.monotonic()
    self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)

  def finish(self):
    """Waits for the run; returns its output, or fails the test with it."""
    remaining = max(1.0, RUN_TIMEOUT_S - (time.monotonic() - self.start))
    try:
      out, _ = self.proc.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
      os.killpg(self.proc.pid, signal.SIGKILL)
      out, _ = self.proc.communicate()
      pytest.fail(f'{self.name} did not finish in {RUN_TIMEOUT_S} s:\n{out[-3000:]}')
    finally:
      self.kill()
    (self.tmp_path / f'{self.name}.log').write_text(out)
    assert self.proc.returncode == 0, f'{self.name} failed:\n{out[-5000:]}'
    print(f'{self.name}: {time.monotonic() - self.start:.1f} s')
    return out

  def kill(self):
    if self.proc.poll() is None:
      os.killpg(self.proc.pid, signal.SIGKILL)
      self.proc.wait()


def _load(workdir, step):
  """The train state checkpointed at `step` as numpy, whatever wrote it."""
  import jax  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, 'checkpoints', str(step), 'default')
  ckptr = ocp.PyTreeCheckpointer()
  meta = ckptr.metadata(path)
  meta = getattr(getattr(meta, 'item_metadata', meta), 'tree', meta)
  args = jax.tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta)
  return ckptr.restore(path, args=ocp.args.PyTreeRestore(restore_args=args))


def _assert_close(a, b, what):
  import jax  # pylint: disable=g-import-not-at-top
  flat_a = jax.tree_util.tree_flatten_with_path(a)[0]
  flat_b = jax.tree_util.tree_leaves(b)
  assert len(flat_a) == len(flat_b), what
  worst = 0.0
  for (path, x), y in zip(flat_a, flat_b):
    np.testing.assert_allclose(x, y, atol=ATOL, rtol=0,
                               err_msg=f'{what}: {jax.tree_util.keystr(path)}')
    worst = max(worst, float(np.max(np.abs(np.asarray(x, np.float64) - y), initial=0.0)))
  print(f'{what}: {len(flat_a)} leaves, max |difference| {worst:.2e}')


def _two_procs_and_one(tmp_path, name_a, name_b, logdir, args_a, args_b):
  """Runs args_a as 2 processes x 2 devices and args_b as 1 x 4, side by side.

  Returns both outputs; process 1's log of A goes to tmp_path / logdir.
  """
  runs = [
      _Run(name_a, ['bash', LAUNCHER, '2', sys.executable] + args_a,
           dict(_env(tmp_path, 2), LOCAL_MP_LOGDIR=str(tmp_path / logdir)), tmp_path),
      _Run(name_b, [sys.executable] + args_b, _env(tmp_path, 4), tmp_path)]
  try:
    return [run.finish() for run in runs]
  finally:
    for run in runs:
      run.kill()


@pytest.mark.skipif(not shutil.which('bash'), reason='the launcher is a bash script')
def test_two_processes_match_one_and_resume_in_one(tmp_path):
  data = tmp_path / 'data.npz'
  _make_data(data)
  run_a, run_b, run_c = (str(tmp_path / n) for n in ('two_procs', 'one_proc', 'resumed'))

  # A and B are independent: run them side by side (C then reuses B's compiles).
  out_a, _ = _two_procs_and_one(tmp_path, 'two_procs', 'one_proc', 'a_logs',
                                _args(data, tmp_path, run_a), _args(data, tmp_path, run_b))

  # Only process 0 reports: one progress bar, one history, no INFO from process 1.
  assert '2 local / 4 global devices' in out_a
  other = (tmp_path / 'a_logs' / 'process_1.log').read_text()
  assert 'epoch 1/2' not in other and 'train.py' not in other, other[-2000:]
  with open(os.path.join(run_a, 'metrics.jsonl')) as f:
    assert [r.count('"epoch"') for r in f] == [1, 1]

  state_a, state_b = _load(run_a, STEPS), _load(run_b, STEPS)
  assert int(state_a['step']) == int(state_b['step']) == STEPS
  _assert_close(state_a['params'], state_b['params'], '2x2 vs 1x4 params')
  _assert_close(state_a['batch_stats'], state_b['batch_stats'], '2x2 vs 1x4 batch_stats')
  _assert_close(state_a['opt_state'], state_b['opt_state'], '2x2 vs 1x4 opt_state')

  # Resume the 2-process run's step-4 checkpoint in one process.
  shutil.copytree(run_a, run_c)
  for step in (6, 8):
    shutil.rmtree(os.path.join(run_c, 'checkpoints', str(step)))
  out_c = _Run('resumed', [sys.executable] + _args(data, tmp_path, run_c),
                _env(tmp_path, 4), tmp_path).finish()
  assert 'Resumed from step 4' in out_c, out_c[-3000:]
  state_c = _load(run_c, STEPS)
  for part in ('params', 'batch_stats', 'opt_state', 'input_stats'):
    _assert_close(state_c[part], state_b[part], f'2x2 to step 4 + 1x4 resumed vs 1x4 {part}')


def _seq2seq_args(workdir):
  """2-digit addition, 8 steps of 16 (2 epochs, an evaluation each)."""
  return ['-m', 'seq2seq.main', '--config=configs/seq2seq/addition.py', f'--workdir={workdir}',
          '--config.num_digits=2', '--config.train_size=88', '--config.val_size=24',
          '--config.test_size=24',
          '--config.batch_size=16', '--config.eval_batch_size=10', '--config.num_epochs=2',
          '--config.model.hidden_size=16', '--config.model.unroll=False',
          '--config.log_every_steps=1', '--config.num_samples=1']


@pytest.mark.skipif(not shutil.which('bash'), reason='the launcher is a bash script')
def test_seq2seq_two_processes_match_one(tmp_path):
  run_a, run_b = str(tmp_path / 's2s_two_procs'), str(tmp_path / 's2s_one_proc')
  out_a, _ = _two_procs_and_one(tmp_path, 's2s_two_procs', 's2s_one_proc', 's2s_logs',
                                _seq2seq_args(run_a), _seq2seq_args(run_b))
  # One voice: process 0 prints the evaluations, process 1 nothing of them.
  assert out_a.count('val exact') == 2, out_a[-3000:]
  other = (tmp_path / 's2s_logs' / 'process_1.log').read_text()
  assert 'val exact' not in other, other[-2000:]
  with open(os.path.join(run_a, 'metrics.jsonl')) as f:
    records_a = [json.loads(line) for line in f]
  with open(os.path.join(run_b, 'metrics.jsonl')) as f:
    records_b = [json.loads(line) for line in f]
  assert [r['step'] for r in records_a] == [r['step'] for r in records_b] == [4, 8]
  # The whole val and test sets are evaluated either way: the same exact-match counts.
  for key in ('val_accuracy', 'test_accuracy'):
    assert [r[key] for r in records_a] == [r[key] for r in records_b]
  state_a, state_b = _load(run_a, 8), _load(run_b, 8)
  _assert_close(state_a['params'], state_b['params'], 'seq2seq 2x2 vs 1x4 params')
