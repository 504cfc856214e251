"""Bad input through the real entry point: a clear message, exit 2, nothing lost."""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from PIL import Image

from cnnlab.core import checkpoints
from conftest import REPO, make_image_folder, run_module

TINY = ['--config=configs/vgg.py', '--config.model.name=conv1', '--config.batch_size=8',
        '--config.eval_batch_size=8', '--config.num_epochs=1', '--config.data.val_fraction=0.25']
TMP_MARK = '.orbax-checkpoint-tmp'  # in a name of orbax's in-progress checkpoint dirs


def train_args(data_dir, tmp_path, *extra):
  return [*TINY, f'--config.data.dir={data_dir}', f'--config.data.cache_dir={tmp_path}/cache',
          f'--workdir={tmp_path}/run', *extra]


def assert_user_error(result, *phrases):
  assert result.returncode == 2, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  for phrase in phrases:
    assert phrase in result.stderr, result.stderr[-3000:]


def test_missing_data_dir(tmp_path):
  result = run_module('cnnlab.main', *train_args(tmp_path / 'nope', tmp_path))
  assert_user_error(result, 'does not exist', '--config.data.dir=')


def test_folder_without_class_subfolders(tmp_path):
  (tmp_path / 'flat').mkdir()
  Image.new('RGB', (16, 16)).save(tmp_path / 'flat' / 'a.jpg')
  result = run_module('cnnlab.main', *train_args(tmp_path / 'flat', tmp_path))
  assert_user_error(result, 'no class sub-folders', '<class name>/<image>.jpg')


def test_empty_class_folder(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=4)
  os.makedirs(os.path.join(root, 'zebra'))
  result = run_module('cnnlab.main', *train_args(root, tmp_path))
  assert_user_error(result, 'zebra', 'holds no', 'remove the folder')


def test_single_class_folder(tmp_path):
  # A one-class "classifier" would reach 100% accuracy and mean nothing: refused.
  root = make_image_folder(tmp_path / 'f', classes=('cat',), per_class=4)
  result = run_module('cnnlab.main', *train_args(root, tmp_path))
  assert_user_error(result, "has 1 class(es) (cat): a classifier needs at least 2",
                    'one sub-folder per class')
  assert not os.path.exists(tmp_path / 'run' / 'checkpoints')


def test_corrupt_jpeg_names_file(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=4)
  bad = os.path.join(root, 'cat', '0002.jpg')
  with open(bad, 'wb') as f:
    f.write(b'not a jpeg at all')
  result = run_module('cnnlab.main', *train_args(root, tmp_path))
  assert_user_error(result, bad, 'skip_corrupt=True')


@pytest.mark.parametrize('override,phrase', [
    ('--config.model.name=vgg19', "Unknown model 'vgg19'"),
    ('--config.optimizer.name=adamm', "Unknown optimizer 'adamm'"),
    ('--config.optimizer.lrr=0.1', 'unknown config field'),
    ('--config.schedule.name=cosin', "Unknown schedule 'cosin'"),
    ('--config.data.name=cifar1000', "Unknown dataset 'cifar1000'"),
    ('--config.augment=flip_lr|rotat(8)', "Unknown augmentation op 'rotat'"),
    ('--config.tta=flipp', "Unknown test-time augmentation 'flipp'"),
])
def test_unknown_names(tmp_path, image_folder, override, phrase):
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path, override))
  assert_user_error(result, phrase)
  if 'Unknown' in phrase:
    assert 'Known' in result.stderr  # lists the names that exist


def test_batch_not_divisible_by_devices(tmp_path, image_folder):
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path, '--config.batch_size=6'),
                      env={'XLA_FLAGS': '--xla_force_host_platform_device_count=4'})
  assert_user_error(result, 'batch_size=6 is not divisible by the 4 devices', 'batch_size=4 or 8')


def test_workdir_of_another_model_is_refused_and_kept(tmp_path, image_folder):
  first = run_module('cnnlab.main', *train_args(image_folder, tmp_path))
  assert first.returncode == 0, first.stderr[-3000:]
  before = sorted(os.listdir(tmp_path / 'run' / 'checkpoints'))
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path,
                                                 '--config.model.name=conv4'))
  assert_user_error(result, "model='conv1'", "model='conv4'", 'new --workdir')
  assert sorted(os.listdir(tmp_path / 'run' / 'checkpoints')) == before
  # Another augmentation spec would change what the checkpoints were trained on.
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path,
                                                 '--config.augment=flip_lr'))
  assert_user_error(result, "augment=''", "augment='flip_lr'", 'new --workdir')
  assert sorted(os.listdir(tmp_path / 'run' / 'checkpoints')) == before


def test_ctrl_c_saves_exits_nonzero_and_resumes(tmp_path, image_folder):
  args = train_args(image_folder, tmp_path, '--config.num_epochs=100000',
                    '--config.checkpoint_every_steps=1000000')
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.Popen([sys.executable, '-m', 'cnnlab.main', *args], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  history = tmp_path / 'run' / 'metrics.jsonl'
  try:
    deadline = time.time() + 180
    while not (history.exists() and history.read_text().count('\n') >= 2):
      assert proc.poll() is None, proc.communicate()[1][-3000:]
      assert time.time() < deadline, 'no epoch finished in time'
      time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
  finally:
    proc.kill()
  assert proc.returncode == 130, stderr[-3000:]
  assert 'Interrupted: saving a checkpoint' in stderr
  steps = [int(s) for s in os.listdir(tmp_path / 'run' / 'checkpoints') if s.isdigit()]
  assert max(steps) >= 6  # at least two epochs of 3 steps were done
  # Rerun resumes from the interrupt checkpoint and finishes a short schedule.
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path,
                                                 f'--config.num_train_steps={max(steps) + 2}'))
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Resumed from step {max(steps)}' in result.stderr


def test_skip_corrupt_counts_and_records_skipped_files(tmp_path):
  root = make_image_folder(tmp_path / 'f', per_class=4)
  with open(os.path.join(root, 'cat', '0002.jpg'), 'wb') as f:
    f.write(b'not a jpeg at all')
  result = run_module('cnnlab.main', *train_args(root, tmp_path, '--config.data.skip_corrupt=True',
                                                 '--config.report=False'))
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Skipped 1 corrupt image(s)' in result.stderr, result.stderr[-3000:]
  assert os.path.join('cat', '0002.jpg') in result.stderr
  with open(tmp_path / 'run' / 'meta.json') as f:
    meta = json.load(f)
  assert meta['skipped_files'] == [os.path.join('cat', '0002.jpg')]
  assert meta['data']['num_skipped'] == 1
  assert meta['data']['num_train'] + meta['data']['num_val'] == 11  # 12 files, 1 skipped


def _step_dirs(folder):
  names = os.listdir(folder) if os.path.isdir(folder) else []
  return [int(n) for n in names if n.isdigit()], [n for n in names if TMP_MARK in n]


KILL_INSIDE_SAVE = """
import os, runpy, signal, sys
from orbax.checkpoint._src.path import atomicity
original = atomicity.AtomicRenameTemporaryPath.finalize

async def finalize(self):
  # Every file of the checkpoint is written, the rename that commits it is next.
  if (self._final_path.parent.name == 'checkpoints'
      and self._final_path.name == os.environ['KILL_AT_STEP']):
    os.kill(os.getpid(), signal.SIGKILL)
  return await original(self)

atomicity.AtomicRenameTemporaryPath.finalize = finalize
sys.argv[0] = 'cnnlab.main'
runpy.run_module('cnnlab.main', run_name='__main__')
"""


def test_kill_during_save_keeps_last_checkpoint_and_resumes(tmp_path, image_folder):
  # SIGKILL from inside orbax's save of step 3, when its temporary directory is
  # complete but not yet renamed into place: deterministic, not a race.
  script = tmp_path / 'kill_inside_save.py'
  script.write_text(KILL_INSIDE_SAVE)
  common = ['--config.checkpoint_every_steps=1', '--config.num_train_steps=5',
            '--config.report=False']
  args = train_args(image_folder, tmp_path, *common)
  ckpt_dir = str(tmp_path / 'run' / 'checkpoints')
  env = dict(os.environ, PYTHONPATH=REPO, KILL_AT_STEP='3')
  killed = subprocess.run([sys.executable, str(script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  done, tmp = _step_dirs(ckpt_dir)
  assert sorted(done) == [1, 2] and len(tmp) == 1 and tmp[0].startswith('3.'), (done, tmp)
  # The last complete checkpoint restores, and equals an uninterrupted run's step 2.
  reference = [a.replace(f'{tmp_path}/run', f'{tmp_path}/reference') for a in args]
  result = run_module('cnnlab.main', *reference, '--config.max_checkpoints_to_keep=5')
  assert result.returncode == 0, result.stderr[-3000:]
  ckpts = checkpoints.Checkpoints(str(tmp_path / 'run'))
  try:
    assert ckpts.latest_step() == 2
    restored = ckpts.latest.restore(2, args=ocp.args.StandardRestore())
  finally:
    ckpts.close()
  expected = checkpoints.Checkpoints(str(tmp_path / 'reference'))
  try:
    at_2 = expected.latest.restore(2, args=ocp.args.StandardRestore())
    same_step = expected.latest.restore(5, args=ocp.args.StandardRestore())
  finally:
    expected.close()
  assert int(restored['step']) == 2
  jax.tree_util.tree_map(np.testing.assert_array_equal, restored, at_2)
  # A rerun resumes from step 2, clears the leftover temporary directory, and
  # ends exactly where the uninterrupted run ended.
  result = run_module('cnnlab.main', *args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Resumed from step 2' in result.stderr, result.stderr[-3000:]
  done, tmp = _step_dirs(ckpt_dir)
  assert max(done) == 5 and not tmp, (done, tmp)
  ckpts = checkpoints.Checkpoints(str(tmp_path / 'run'))
  try:
    final = ckpts.latest.restore(5, args=ocp.args.StandardRestore())
  finally:
    ckpts.close()
  jax.tree_util.tree_map(np.testing.assert_array_equal, final, same_step)


def test_summary_and_evaluate_cli(tmp_path, image_folder):
  result = run_module('cnnlab.summary', '--config=configs/vgg.py')
  assert result.returncode == 0 and 'Total params: 640,502' in result.stdout
  assert run_module('cnnlab.main', *train_args(image_folder, tmp_path)).returncode == 0
  result = run_module('cnnlab.evaluate', f'--workdir={tmp_path}/run', f'--data_dir={image_folder}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert (tmp_path / 'run' / 'eval_images.json').exists()
  other = make_image_folder(tmp_path / 'other', classes=('cat', 'zebra'), per_class=2)
  result = run_module('cnnlab.evaluate', f'--workdir={tmp_path}/run', f'--data_dir={other}')
  assert_user_error(result, "['zebra']", 'same class names')


def assert_one_line_error(result, message):
  assert_user_error(result, message)
  errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
  assert errors == [f'error: {message}'], result.stderr[-3000:]


def test_report_without_runs_is_a_one_line_error():
  result = run_module('cnnlab.report')
  assert_one_line_error(result, 'pass the runs to compare: --workdirs runs/a runs/b ...')


def test_finetune_of_a_missing_source_is_a_one_line_error(tmp_path):
  result = run_module('cnnlab.finetune', '--init_from=/nonexistent')
  assert_one_line_error(result, "init_from='/nonexistent' is neither a directory nor a .npz file")
  result = run_module('cnnlab.finetune', f'--init_from={tmp_path}/weights.npz')
  assert_one_line_error(result, f"init_from='{tmp_path}/weights.npz': no such file")
  result = run_module('cnnlab.finetune')  # --init_from is required
  assert_user_error(result, 'error: flag --init_from=None')
