"""cnnlab.core.checkpoints: periodic and best managers of one workdir, restored by structure."""
import jax.numpy as jnp
import pytest

from cnnlab.core import checkpoints


def test_periodic_keep_the_latest_the_best_keeps_one_and_find_step_tells_which(tmp_path):
  ckpts = checkpoints.Checkpoints(str(tmp_path), max_to_keep=2)
  for step in (1, 2, 3):
    ckpts.save(step, {'w': jnp.full(2, float(step))})
  ckpts.save(3, {'w': jnp.full(2, -1.0)})  # a step saved twice keeps the first
  ckpts.save_best(2, {'w': jnp.full(2, 2.0)})
  ckpts.wait()
  assert sorted(ckpts.latest.all_steps()) == [2, 3] and ckpts.best_step() == 2
  template = {'w': jnp.zeros(2)}
  assert float(ckpts.restore(template)['w'][0]) == 3.0
  assert float(ckpts.restore(template, best=True)['w'][0]) == 2.0
  assert float(ckpts.restore(template, step=2)['w'][0]) == 2.0
  ckpts.close()
  assert checkpoints.find_step(str(tmp_path), 2) == checkpoints.BEST_DIR
  assert checkpoints.find_step(str(tmp_path), 3) == checkpoints.LATEST_DIR
  with pytest.raises(FileNotFoundError):
    checkpoints.find_step(str(tmp_path), 1)  # dropped by max_to_keep
