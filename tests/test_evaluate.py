"""cnnlab.evaluate through its command line: --step, and arrays files with labels 1..5."""
import json
import os

import numpy as np
import pytest

from cnnlab.core import checkpoints
from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab.core.errors import UserError
from conftest import ARRAY_LABELS, label_images, run_module


def _read_eval(workdir, name):
  with open(os.path.join(workdir, f'eval_{name}.json')) as f:
    return json.load(f)


def test_arrays_file_keeps_original_labels(arrays_run, tmp_path):
  # Label k appears k times, shuffled: the confusion rows' sums say which row
  # is which label (a lost 1..5 -> 0..4 mapping would shift or refuse them).
  rng = np.random.default_rng(7)
  labels = np.repeat(ARRAY_LABELS, ARRAY_LABELS)[rng.permutation(15)]
  path = tmp_path / 'labelled.npz'
  np.savez(path, images=label_images(labels, rng), labels=labels)
  result = run_module('cnnlab.evaluate', f'--workdir={arrays_run["workdir"]}',
                      f'--data_dir={path}', '--report=False')
  assert result.returncode == 0, result.stderr[-3000:]
  evaluation = _read_eval(arrays_run['workdir'], 'labelled')
  assert evaluation['count'] == 15 and evaluation['data_name'] == 'arrays'
  assert evaluation['label_values'] == list(ARRAY_LABELS)
  assert evaluation['class_names'] == [str(v) for v in ARRAY_LABELS]
  confusion = np.array(evaluation['confusion'])
  assert confusion.shape == (5, 5)
  np.testing.assert_array_equal(confusion.sum(1), ARRAY_LABELS)
  assert evaluation['accuracy'] == pytest.approx(np.trace(confusion) / 15)
  assert evaluation['accuracy'] >= 0.8  # learned, and the labels line up
  predictions = np.load(os.path.join(arrays_run['workdir'], 'eval_labelled_predictions.npz'))
  # Stored as class indices: label_values[index] gives back the file's labels.
  np.testing.assert_array_equal(np.array(ARRAY_LABELS)[predictions['labels']], labels)
  assert 'labelled: accuracy' in result.stdout and '(15 images' in result.stdout


def test_step_evaluates_that_checkpoint_not_the_best(arrays_run):
  workdir = arrays_run['workdir']
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    best, periodic = ckpts.best_step(), ckpts.latest.all_steps()
  finally:
    ckpts.close()
  step = max(s for s in periodic if s != best)  # max_to_keep=2: one always differs
  result = run_module('cnnlab.evaluate', f'--workdir={workdir}', f'--step={step}',
                      f'--name=at_{step}', '--report=False')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'step {step})' in result.stdout
  evaluation = _read_eval(workdir, f'at_{step}')
  assert evaluation['step'] == step != best
  # Exactly that checkpoint's numbers on the run's val split.
  run = inference.load_run(workdir, step)
  assert run.step == step
  _, val = input_pipeline.load_splits(run.config)
  expected = inference.evaluate(run, val, with_probabilities=False)
  assert evaluation['count'] == expected['count'] == len(val.labels)
  assert evaluation['confusion'] == expected['confusion']
  assert evaluation['loss'] == pytest.approx(expected['loss'], rel=1e-5)
  with pytest.raises(UserError, match=r'no checkpoint at step 9999.*available'):
    inference.load_run(workdir, 9999)


def test_data_with_a_class_or_size_the_model_lacks_is_refused_naming_both(arrays_run, tmp_path):
  from cnnlab import evaluate  # pylint: disable=g-import-not-at-top
  run = inference.load_run(arrays_run['workdir'])
  rng = np.random.default_rng(3)
  subset = np.array([2, 5, 5])  # a subset of the trained classes is fine
  np.savez(tmp_path / 'subset.npz', images=label_images(subset, rng), labels=subset)
  _, dataset = evaluate.load_eval_data(run, str(tmp_path / 'subset.npz'), '', 'test', 0)
  np.testing.assert_array_equal(np.array(ARRAY_LABELS)[dataset.labels], subset)
  stranger = np.array([2, 9])
  np.savez(tmp_path / 'stranger.npz', images=label_images(stranger, rng), labels=stranger)
  with pytest.raises(UserError, match=r"--data_dir=.*stranger.npz.* has classes \['9'\] that "
                                      r"the model in .* does not"):
    evaluate.load_eval_data(run, str(tmp_path / 'stranger.npz'), '', 'test', 0)
  shape = run.meta['image_shape']
  big = label_images(subset, rng)
  big = np.concatenate([big, big], axis=1)  # twice as tall
  np.savez(tmp_path / 'big.npz', images=big, labels=subset)
  with pytest.raises(UserError, match=rf'holds .* images .* pass --image_size={shape[0]}'):
    evaluate.load_eval_data(run, str(tmp_path / 'big.npz'), '', 'test', 0)


def test_data_dir_is_read_by_the_rule_which_says_what_it_decided(arrays_run, tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(8)
  folder = tmp_path / 'by_label'
  for k, label in enumerate(np.repeat(ARRAY_LABELS, 2)):
    os.makedirs(folder / str(label), exist_ok=True)
    Image.fromarray(label_images([label], rng)[0]).save(folder / str(label) / f'{k}.png')
  result = run_module('cnnlab.evaluate', f'--workdir={arrays_run["workdir"]}',
                      f'--data_dir={folder}', '--report=False')
  assert result.returncode == 0, result.stderr[-3000:]
  assert (f'Reading {folder} as data.name=image_folder (it is a folder without idx files or '
          'CIFAR batches; pass --data_name to choose)') in result.stderr
  evaluation = _read_eval(arrays_run['workdir'], 'by_label')
  # The record names the source read, not the run's own (arrays).
  assert evaluation['count'] == 10 and evaluation['data_name'] == 'image_folder'
  result = run_module('cnnlab.evaluate', f'--workdir={arrays_run["workdir"]}',
                      f'--data_dir={tmp_path / "notes.txt"}', '--report=False')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert "cannot tell which source reads" in result.stderr and 'it does not exist' in result.stderr
