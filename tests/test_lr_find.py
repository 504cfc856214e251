"""LR range test: the analysis on a known curve, and a tiny real run."""
import json
import os

import numpy as np
import pytest

from cnnlab import lr_find
from cnnlab.core.errors import UserError
from conftest import tiny_config


def synthetic(num_steps=200):
  """Loss falls fastest at lr 1e-3 (a logistic in log10 lr), explodes past 0.3."""
  lrs = lr_find.range_schedule(1e-6, 10.0, num_steps)
  lrs = np.array([lrs(i) for i in range(num_steps)])
  x = np.log10(lrs)
  loss = 2.0 - 1.5 / (1 + np.exp(-3 * (x + 3))) + np.where(lrs > 0.3, (x + 0.52) * 40, 0)
  accuracy = 0.1 + 0.8 / (1 + np.exp(-3 * (x + 3))) - np.where(lrs > 0.3, 0.5, 0)
  return lrs, loss, accuracy


def test_range_schedule_is_exponential():
  schedule = lr_find.range_schedule(1e-5, 1.0, 6)
  np.testing.assert_allclose([schedule(i) for i in range(6)],
                             [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-6)


def test_smooth_is_bias_corrected():
  np.testing.assert_allclose(lr_find.smooth(np.full(5, 3.0), 0.9), 3.0)


def test_analyse_finds_the_steepest_descent_and_stops_at_divergence():
  lrs, loss, accuracy = synthetic()
  result = lr_find.analyse(lrs, loss, accuracy, beta=0.5, diverge=4.0)
  # The smoothing lags half a step or so: within a factor 1.5 of the true 1e-3.
  assert 1e-3 / 1.5 < result['suggested_lr'] < 1e-3 * 1.5
  assert 0.3 <= result['diverged_at_lr'] < 1.0
  assert result['clr_base_lr'] < result['suggested_lr'] < result['clr_max_lr'] <= 0.3
  assert result['min_loss_lr'] <= 0.3


def test_summary_warns_when_max_lr_was_too_low():
  lrs, loss, accuracy = synthetic()
  keep = lrs < 1e-2  # the sweep never reached the minimum
  result = lr_find.analyse(lrs[keep], loss[keep], accuracy[keep])
  result['lr'] = list(lrs[keep])
  assert 'larger --max_lr' in lr_find.summary(result)


def test_analyse_refuses_an_immediate_divergence():
  lrs, loss, accuracy = synthetic()
  loss[5:] = np.nan
  with pytest.raises(UserError, match='diverged after'):
    lr_find.analyse(lrs, loss, accuracy)


def test_tiny_run_writes_only_its_outputs(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path, **{'optimizer.name': 'sgd'})
  result = lr_find.run(config, min_lr=1e-3, max_lr=1e4, num_steps=40)
  out = tmp_path / 'out'
  paths = lr_find.write(result, str(out))
  assert sorted(os.listdir(out)) == ['lr_find.json', 'lr_find.png']
  with open(paths['json']) as f:
    saved = json.load(f)
  assert len(saved['lr']) == len(saved['loss'])
  assert saved['lr'][0] == pytest.approx(1e-3)
  # SGD with momentum 0.9 at lr 1e4 blows up: the sweep stopped early, at the divergence it reports
  # (within the 10-step check interval), and the suggestion lies well below it.
  assert len(saved['lr']) < 40 and saved['diverged_at_lr'] is not None
  assert saved['lr'][-1] >= saved['diverged_at_lr'] > saved['lr'][len(saved['lr']) - 11]
  smoothed = lr_find.smooth(np.asarray(saved['loss']), 0.95)
  stop = int(np.searchsorted(saved['lr'], saved['diverged_at_lr']))
  assert np.nanmax(smoothed[stop:]) > 4.0 * np.nanmin(smoothed[:stop + 1])
  assert saved['suggested_lr'] < saved['diverged_at_lr']
  assert saved['clr_base_lr'] < saved['suggested_lr'] <= saved['clr_max_lr']
  assert '--config.optimizer.lr=' in lr_find.summary(saved)


def test_range_schedule_linear():
  schedule = lr_find.range_schedule(1e-3, 0.101, 6, sweep='linear')
  lrs = np.array([schedule(i) for i in range(6)])
  np.testing.assert_allclose(lrs, [0.001, 0.021, 0.041, 0.061, 0.081, 0.101], rtol=1e-12)
  np.testing.assert_allclose(np.diff(lrs), 0.02, rtol=1e-9)  # evenly spaced, not in log
  with pytest.raises(UserError, match="--sweep='cubic': use one of exponential, linear"):
    lr_find.range_schedule(1e-3, 0.1, 6, sweep='cubic')


def test_tiny_linear_run(image_folder, tmp_path):
  # Seed 000's ramp: plain SGD, the lr growing linearly.
  config = tiny_config(image_folder, tmp_path, **{'optimizer.name': 'sgd',
                                                  'optimizer.momentum': 0.0})
  with pytest.raises(UserError, match='--sweep='):
    lr_find.run(config, 1e-3, 0.1, 20, sweep='log')
  result = lr_find.run(config, min_lr=1e-3, max_lr=0.1, num_steps=20, sweep='linear')
  assert result['settings']['sweep'] == 'linear' and len(result['lr']) == 20
  np.testing.assert_allclose(result['lr'], np.linspace(1e-3, 0.1, 20), rtol=1e-9)
  paths = lr_find.write(result, str(tmp_path / 'out'))
  assert os.path.getsize(paths['png']) > 10_000
  with open(paths['json']) as f:
    assert json.load(f)['settings']['sweep'] == 'linear'
