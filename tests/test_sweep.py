"""Sweep: typed cartesian variants, the report's numbers, resumable runs."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from cnnlab.core import history
from cnnlab import sweep
from cnnlab import train
from cnnlab.core.errors import UserError
from configs import base
from conftest import tiny_config


def test_parse_sweeps_is_typed_and_cartesian():
  config = base.get_config()
  variants = sweep.parse_sweeps(config, ['optimizer.name=sgd,adam', 'config.optimizer.lr=0.1, 1e-3',
                                         'optimizer.nesterov=true', 'augment=flip_lr;'])
  assert len(variants) == 4
  assert variants[0] == (('optimizer.name', 'sgd'), ('optimizer.lr', 0.1),
                         ('optimizer.nesterov', True), ('augment', 'flip_lr'))
  assert variants[-1][:2] == (('optimizer.name', 'adam'), ('optimizer.lr', 1e-3))
  assert sweep.label(variants[0]) == 'name=sgd, lr=0.1, nesterov=True, augment=flip_lr'
  assert sweep.parse_sweeps(config, ['optimizer.eps=1e-7'])[0] == (('optimizer.eps', 1e-7),)
  assert sweep.parse_sweeps(config, []) == [()]


def test_parse_sweeps_zips_colon_joined_fields():
  variants = sweep.parse_sweeps(base.get_config(), [
      'optimizer.name:optimizer.lr=sgd:0.01,adam:1e-3', 'seed=0,1'])
  assert variants == [
      (('optimizer.name', 'sgd'), ('optimizer.lr', 0.01), ('seed', 0)),
      (('optimizer.name', 'sgd'), ('optimizer.lr', 0.01), ('seed', 1)),
      (('optimizer.name', 'adam'), ('optimizer.lr', 1e-3), ('seed', 0)),
      (('optimizer.name', 'adam'), ('optimizer.lr', 1e-3), ('seed', 1))]
  with pytest.raises(UserError, match='given twice'):
    sweep.parse_sweeps(base.get_config(), ['seed=1', 'optimizer.lr:seed=0.1:2'])
  with pytest.raises(UserError, match='needs 2 values'):
    sweep.parse_sweeps(base.get_config(), ['optimizer.name:optimizer.lr=sgd'])


@pytest.mark.parametrize('spec,message', [('optimizer.nmae=sgd', 'not a config field'),
                                          ('batch_size=1.5', 'expected a int'),
                                          ('optimizer.name', 'FIELD=V1,V2'),
                                          ('seed=', 'lists no values')])
def test_parse_sweeps_errors(spec, message):
  with pytest.raises(UserError, match=message):
    sweep.parse_sweeps(base.get_config(), [spec])


def test_a_bad_variant_stops_the_sweep_before_any_run(tmp_path):
  config = base.get_config()
  variants = sweep.parse_sweeps(config, ['optimizer.name=sgd,adamm'])
  with pytest.raises(UserError, match="variant name=adamm: Unknown optimizer 'adamm'"):
    sweep.run_all(config, variants, 1, str(tmp_path))
  assert not os.listdir(tmp_path)


def test_apply_offsets_the_seed_and_leaves_the_base_alone():
  config = base.get_config()
  config.lock()
  run = sweep.apply(config, (('optimizer.name', 'adam'),), 2)
  assert (run.optimizer.name, run.seed) == ('adam', 2)
  assert (config.optimizer.name, config.seed) == ('sgd', 0)


def fake_run(workdir, variant, seed, accuracies, status='finished'):
  path = sweep.run_dir(workdir, variant, seed)
  os.makedirs(path)
  for epoch, acc in enumerate(accuracies, 1):
    history.append(path, {'epoch': epoch, 'step': epoch * 10, 'val_accuracy': acc,
                          'val_loss': 1 - acc, 'elapsed_seconds': 10.0 * epoch + seed})
  with open(os.path.join(path, sweep.RUN_FILE), 'w') as f:
    json.dump({'status': status, 'config': ''}, f)


def test_report_numbers_and_plot(tmp_path):
  workdir = str(tmp_path)
  sgd, adam = (('optimizer.name', 'sgd'),), (('optimizer.name', 'adam'),)
  fake_run(workdir, sgd, 0, [0.2, 0.5, 0.4])
  fake_run(workdir, sgd, 1, [0.3, 0.4, 0.6])
  fake_run(workdir, adam, 0, [0.5, 0.7])
  fake_run(workdir, adam, 1, [0.1], status='diverged')
  text = sweep.report([sgd, adam], 2, workdir, 'test')
  rows = {r['label']: r for r in json.load(open(tmp_path / 'sweep.json'))}
  np.testing.assert_allclose(rows['name=sgd']['final_val_accuracy'], [0.5, np.std([.4, .6], ddof=1)])
  np.testing.assert_allclose(rows['name=sgd']['best_val_accuracy'][0], 0.55)
  np.testing.assert_allclose(rows['name=sgd']['epochs_to_best'], [2.5, np.std([2, 3], ddof=1)])
  np.testing.assert_allclose(rows['name=sgd']['wall_seconds'][0], 30.5)
  assert rows['name=adam']['runs'] == 1 and rows['name=adam']['diverged'] == 1
  assert '| name=sgd | 2/2 | 0.5000 ± 0.1414 | 0.5500 ± 0.0707 | 2.5 ± 0.7 | 30 ± 1 s |' in text
  # One finished run: its value, no invented '± 0' spread.
  assert '| name=adam | 1/2 (1 diverged) | 0.7000 | 0.7000 | 2.0 |' in text
  assert rows['name=adam']['final_val_accuracy'] == [0.7, None]
  with Image.open(tmp_path / 'sweep.png') as img:
    assert img.format == 'PNG' and np.asarray(img.convert('L')).std() > 10
  md = open(tmp_path / 'sweep.md').read()
  assert md.startswith('# test') and '| name=sgd | 2/2 | 0.5000 ± 0.1414 |' in md


def test_runs_then_skips_finished_runs(image_folder, tmp_path, monkeypatch):
  config = tiny_config(image_folder, tmp_path, num_epochs=1)
  variants = sweep.parse_sweeps(config, ['optimizer.name=sgd'])  # one: each run costs ~15 s here
  workdir = str(tmp_path / 'sweep')
  sweep.run_all(config, variants, 1, workdir)
  for v in variants:
    assert sweep.read_run(sweep.run_dir(workdir, v, 0))['status'] == 'finished'

  def must_not_train(*args):
    raise AssertionError(f'retrained {args[1]}')

  monkeypatch.setattr(train, 'train_and_evaluate', must_not_train)
  sweep.run_all(config, variants, 1, workdir)  # all finished: nothing runs
  config.num_epochs = 2  # a changed config is not "finished"
  with pytest.raises(AssertionError, match='retrained'):
    sweep.run_all(config, variants, 1, workdir)
  assert 'name=sgd | 1/1' in sweep.report(variants, 1, workdir)
