"""init_from (load by name, re-initialise mismatches) and freeze (multi_transform)."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnlab import steps

from cnnlab.core import checkpoints
from cnnlab import finetune
from cnnlab import models
from cnnlab import optimizers
from cnnlab import train
from cnnlab.core.errors import UserError
from conftest import make_image_folder, tiny_config


def test_merge_loads_by_name_and_reports_mismatches():
  target = {'Conv_0': {'kernel': jnp.zeros((3, 3, 3, 8)), 'bias': jnp.zeros(8)},
            'Dense_0': {'kernel': jnp.zeros((8, 5)), 'bias': jnp.zeros(5)}}
  source = {'Conv_0/kernel': np.ones((3, 3, 3, 8)), 'Conv_0/bias': np.ones(8),
            'Dense_0/kernel': np.ones((8, 10)), 'Extra_0/kernel': np.ones(2)}
  merged, report = finetune.merge(target, source)
  np.testing.assert_array_equal(merged['Conv_0']['kernel'], 1.0)
  np.testing.assert_array_equal(merged['Dense_0']['kernel'], 0.0)
  assert report['loaded'] == ['Conv_0/bias', 'Conv_0/kernel']
  assert report['reinitialised'] == {'Dense_0/kernel': [[8, 10], [8, 5]]}
  assert report['missing'] == ['Dense_0/bias']
  assert report['unused'] == ['Extra_0/kernel']


def tiny_state(tx, num_classes=3, seed=0):
  model = models.create_model('conv1', num_classes)
  return steps.create_train_state(jax.random.key(seed), model, (16, 16, 3), tx)


def test_freeze_keeps_matching_params_and_trains_the_rest(tmp_path):
  config = tiny_config('unused', tmp_path, **{'optimizer.lr': 0.05, 'optimizer.weight_decay': 0.1,
                                             'optimizer.max_norm': 0.5})
  config.freeze = r'^Conv_0/'
  tx = optimizers.create_optimizer(config, 10, 100)
  rng = np.random.default_rng(0)
  params = jax.tree.map(jnp.asarray, {
      'Conv_0': {'kernel': rng.normal(size=(3, 3, 3, 4)), 'bias': np.ones(4)},
      'Dense_0': {'kernel': rng.normal(size=(4, 3)), 'bias': np.ones(3)}})
  state, new = tx.init(params), params
  for _ in range(3):  # gradients everywhere; decay and max-norm would move Conv_0 too
    grads = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)
    updates, state = tx.update(grads, state, new)
    new = optax.apply_updates(new, updates)
  for leaf in ('kernel', 'bias'):
    np.testing.assert_array_equal(new['Conv_0'][leaf], params['Conv_0'][leaf])
    assert not np.allclose(new['Dense_0'][leaf], params['Dense_0'][leaf])
  assert optimizers.current_lr(state) == pytest.approx(0.05)


def test_freeze_matching_nothing_is_a_user_error():
  labels = optimizers.freeze_labels('conv_0')  # case matters
  with pytest.raises(UserError, match='matches no parameter.*Conv_0/bias'):
    labels({'Conv_0': {'kernel': jnp.zeros(2), 'bias': jnp.zeros(2)}})


def test_npz_round_trip_and_resolve(tmp_path):
  path = tmp_path / 'w.npz'
  np.savez(path, **{'params/Conv_0/kernel': np.ones((3, 3, 3, 32)),
                    'batch_stats/BatchNorm_0/mean': np.zeros(4)})
  variables = finetune.load_variables(str(path))
  assert list(variables['params']) == ['Conv_0/kernel']
  assert list(variables['batch_stats']) == ['BatchNorm_0/mean']
  with pytest.raises(UserError, match='holds no checkpoint'):
    finetune.resolve(str(tmp_path))
  np.savez(tmp_path / 'bad.npz', **{'weights/x': np.ones(2)})
  with pytest.raises(UserError, match='params/ or batch_stats/'):
    finetune.load_variables(str(tmp_path / 'bad.npz'))


def test_init_from_a_workdir_with_a_new_head_and_frozen_body(tmp_path):
  # A 3-class source run's checkpoint, written directly (training it costs ~20 s here).
  source_dir = str(tmp_path / 'source')
  ckpts = checkpoints.Checkpoints(source_dir)
  ckpts.save(7, tiny_state(optax.sgd(0.1), seed=3))
  ckpts.close()
  source = finetune.load_variables(source_dir)  # its latest checkpoint (no best/ yet)

  four = make_image_folder(tmp_path / 'four', classes=('a', 'b', 'c', 'd'), per_class=4)
  config = tiny_config(four, tmp_path, num_epochs=1, init_from=source_dir, freeze='^Conv_0/',
                       batch_size=4, eval_batch_size=4)
  target_dir = str(tmp_path / 'target')
  train.train_and_evaluate(config, target_dir)

  with open(os.path.join(target_dir, finetune.REPORT_FILE)) as f:
    report = json.load(f)['params']
  assert report['loaded'] == ['Conv_0/bias', 'Conv_0/kernel']
  assert report['reinitialised']['Dense_0/kernel'] == [[2048, 3], [2048, 4]]
  assert report['reinitialised']['Dense_0/bias'] == [[3], [4]]
  trained = finetune.load_variables(os.path.join(target_dir, 'checkpoints'))['params']
  np.testing.assert_array_equal(trained['Conv_0/kernel'], source['params']['Conv_0/kernel'])
  assert trained['Dense_0/kernel'].shape == (2048, 4)
  # Exporting to .npz gives the format other weights are converted to.
  assert finetune.export_npz(target_dir, str(tmp_path / 'target.npz')) == 4
