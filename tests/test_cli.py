"""Bad input through the real entry point: a clear message, exit 2, nothing lost."""
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from conftest import REPO, make_image_folder, run_module

TINY = ['--config=configs/vgg.py', '--config.model.name=conv1', '--config.batch_size=8',
        '--config.eval_batch_size=8', '--config.num_epochs=1', '--config.data.val_fraction=0.25']


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
