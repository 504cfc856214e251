"""Bad input through the real entry point: a clear message, exit 2, nothing lost."""
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import orbax.checkpoint as ocp
import pytest
from PIL import Image

from cnnlab import checkpoints
from cnnlab import cli
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
    ('--config.data.name=cifar100', "Unknown dataset 'cifar100'"),
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


def test_kill_during_save_keeps_last_checkpoint_and_resumes(tmp_path, image_folder):
  # A save every step (orbax writes <step>.orbax-checkpoint-tmp-* and renames it
  # when complete); SIGKILL the run while such a temporary dir exists.
  args = train_args(image_folder, tmp_path, '--config.num_epochs=100000',
                    '--config.checkpoint_every_steps=1', '--config.eval_every_epochs=100000')
  ckpt_dir = str(tmp_path / 'run' / 'checkpoints')
  env = dict(os.environ, PYTHONPATH=REPO)
  with open(tmp_path / 'first.log', 'w') as log:  # a file: a full pipe would block the run
    proc = subprocess.Popen([sys.executable, '-m', 'cnnlab.main', *args], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
  seen_tmp = None
  try:
    deadline = time.time() + 120  # start-up (imports, compile) on a busy machine
    while not _step_dirs(ckpt_dir)[0]:
      assert proc.poll() is None, (tmp_path / 'first.log').read_text()[-3000:]
      assert time.time() < deadline, 'no checkpoint was written in time'
      time.sleep(0.01)
    # Checkpoints are being written now; kill within ~10 s whatever happens.
    deadline = time.time() + 10
    while time.time() < deadline and proc.poll() is None:
      done, tmp = _step_dirs(ckpt_dir)
      if tmp and len(done) >= 2:
        seen_tmp = tmp
        break
      time.sleep(0.0005)
    assert proc.poll() is None, (tmp_path / 'first.log').read_text()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
  finally:
    proc.kill()
  if seen_tmp is None:
    warnings.warn('no orbax temporary checkpoint dir was seen: killed at a random moment')
  done, _ = _step_dirs(ckpt_dir)
  assert done, 'the kill lost every checkpoint'
  last = max(done)
  # The latest complete checkpoint restores (and is the step it says it is).
  ckpts = checkpoints.Checkpoints(str(tmp_path / 'run'))
  try:
    assert ckpts.latest_step() == last
    restored = ckpts.latest.restore(last, args=ocp.args.StandardRestore())
  finally:
    ckpts.close()
  assert int(restored['step']) == last
  # A rerun resumes from it and finishes a short schedule.
  result = run_module('cnnlab.main', *train_args(image_folder, tmp_path,
                                                 f'--config.num_train_steps={last + 2}',
                                                 '--config.report=False'))
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Resumed from step {last}' in result.stderr, result.stderr[-3000:]
  assert max(_step_dirs(ckpt_dir)[0]) == last + 2


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


def test_deferred_interrupt_waits_for_the_step_boundary():
  before = signal.getsignal(signal.SIGINT)
  interrupt = cli.DeferredInterrupt().start()
  assert signal.getsignal(signal.SIGINT) == interrupt._on_sigint  # pylint: disable=protected-access
  try:
    os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C only sets the flag
    time.sleep(0.05)
    assert interrupt.requested
    with pytest.raises(KeyboardInterrupt):
      interrupt.raise_if_requested()
    interrupt.raise_if_requested()  # consumed
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.05)
  finally:
    interrupt.stop()
  assert signal.getsignal(signal.SIGINT) == before  # restored
