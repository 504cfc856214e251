"""cnnlab.core.parallel: cluster detection, row split, and 1 device == 4 fake devices."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from cnnlab.core import parallel
from cnnlab.core.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_VARS = ('SLURM_STEP_NUM_TASKS', 'SLURM_NTASKS', 'JAX_COORDINATOR_ADDRESS',
                'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID', 'TPU_WORKER_HOSTNAMES')


@pytest.fixture
def no_cluster(monkeypatch):
  for name in CLUSTER_VARS:
    monkeypatch.delenv(name, raising=False)
  return monkeypatch


def test_detection_single_process_by_default(no_cluster):
  assert not parallel.should_initialize_distributed(False)
  assert parallel.should_initialize_distributed(True)


@pytest.mark.parametrize('name,value,expected', [
    ('SLURM_STEP_NUM_TASKS', '4', True),  # a task of `srun -n 4`
    ('SLURM_STEP_NUM_TASKS', '1', False),
    ('SLURM_NTASKS', '4', False),  # the batch script itself, not an srun task
    ('JAX_COORDINATOR_ADDRESS', '127.0.0.1:1234', True),
    ('TPU_WORKER_HOSTNAMES', 'w0,w1,w2,w3', True),  # multi-host slice
    ('TPU_WORKER_HOSTNAMES', 'w0', False),  # single-host TPU VM
])
def test_detection_from_environment(no_cluster, name, value, expected):
  no_cluster.setenv(name, value)
  assert parallel.should_initialize_distributed(False) is expected


def test_coordinator_without_process_count_is_a_clear_error(no_cluster):
  no_cluster.setenv('JAX_COORDINATOR_ADDRESS', '127.0.0.1:1234')
  with pytest.raises(UserError, match='JAX_NUM_PROCESSES and JAX_PROCESS_ID'):
    parallel.initialize_distributed(False)


def test_single_process_rows_and_mesh():
  mesh = parallel.create_mesh()
  assert mesh.devices.size == jax.device_count()
  assert parallel.process_rows(8 * jax.device_count(), mesh) == (0, 8 * jax.device_count())


def test_batch_size_not_divisible_names_the_fix():
  class FakeMesh:  # 4 devices without needing them
    devices = np.zeros(4)
  with pytest.raises(UserError, match=r'batch_size=10 is not divisible by the 4 devices.*8 or 12'):
    parallel.check_batch_size(10, FakeMesh())


# Trains a few steps with cnnlab's own functions and prints the final params,
# the rows each process feeds and the mesh; run with 1 and with 4 CPU devices.
_TRAIN_SCRIPT = r'''
import functools, json, sys
import jax, numpy as np, optax
from cnnlab import augment, models, steps
from cnnlab.core import parallel
model_name, spec, on_device = sys.argv[1], sys.argv[2], sys.argv[3] == 'device'
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
labels = rng.integers(0, 4, 48).astype(np.int32)
mesh = parallel.create_mesh()
pipeline = augment.create_pipeline(spec)
state = steps.create_train_state(jax.random.key(0), models.create_model(model_name, 4),
                                 (8, 8, 3), optax.sgd(0.1, 0.9), pipeline.fit(images))
state = parallel.replicate(state, mesh)
kwargs = dict(pipeline=pipeline)
rows = parallel.process_rows(16, mesh)
if on_device:
  data = parallel.replicate({'image': images, 'label': labels}, mesh)
  step = jax.jit(functools.partial(steps.gather_train_step, **kwargs), donate_argnums=0)
else:
  step = jax.jit(functools.partial(steps.train_step, **kwargs), donate_argnums=0)
for i in range(3):
  idx = np.arange(48)[(np.arange(48) * 7 + i) % 48][:16]
  if on_device:
    state, metrics = step(state, data, parallel.global_batch({'i': idx.astype(np.int32)}, mesh)['i'],
                          jax.random.key(1))
  else:
    local = idx[rows[0]:rows[1]]
    batch = parallel.global_batch({'image': images[local], 'label': labels[local]}, mesh)
    state, metrics = step(state, batch, jax.random.key(1))
flat = jax.tree_util.tree_flatten_with_path(parallel.fetch(
    {'params': state.params, 'batch_stats': state.batch_stats}))[0]
print(json.dumps({'devices': jax.device_count(), 'rows': list(rows),
                  'sharding': list(batch['image'].sharding.spec) if not on_device else [],
                  'loss': float(metrics['loss']),
                  'leaves': {jax.tree_util.keystr(p): np.asarray(x).tolist() for p, x in flat}}))
'''


def _train(devices, model_name, spec, path):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
  out = subprocess.run([sys.executable, '-c', _TRAIN_SCRIPT, model_name, spec, path],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('model_name,spec,path', [
    ('fashion_brief', 'flip_lr', 'host'),  # BatchNorm over the global batch, host-fed
    ('mlp', 'flip_lr', 'device'),  # dropout, the device-resident gather path
])
def test_one_device_equals_four_fake_devices(model_name, spec, path):
  one, four = _train(1, model_name, spec, path), _train(4, model_name, spec, path)
  assert (one['devices'], four['devices']) == (1, 4)
  assert one['rows'] == four['rows'] == [0, 16]  # one process feeds every row
  if path == 'host':
    assert four['sharding'] == ['data']  # the batch really is split over 4 devices
  assert one['leaves'].keys() == four['leaves'].keys()
  np.testing.assert_allclose(one['loss'], four['loss'], rtol=1e-5)
  for name in one['leaves']:
    np.testing.assert_allclose(np.array(one['leaves'][name]), np.array(four['leaves'][name]),
                               atol=2e-6, err_msg=name)
