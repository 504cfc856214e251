# cnnlab side of the PyTorch cross-check (see run.sh): writes /tmp/xcheck/*.npz.
import sys; import os; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
import jax, jax.numpy as jnp, numpy as np, optax
from cnnlab import models, steps
m = models.create_model('airbench', 10, widths=(16, 32, 32))
rng = np.random.default_rng(0)
x = rng.normal(size=(8, 32, 32, 3)).astype(np.float32)
y = rng.integers(0, 10, 8)
v = m.init(jax.random.key(0), jnp.asarray(x), train=False)
params = m.fit_params(v['params'], x)
# random BN biases and whiten bias so they matter
params = jax.tree_util.tree_map_with_path(lambda p, a: a + 0.1 * rng.normal(size=a.shape).astype(np.float32) if str(p[-1].key) == 'bias' else a, params)
bs = v['batch_stats']
def loss_fn(p):
  logits, upd = m.apply({'params': p, 'batch_stats': bs}, jnp.asarray(x), train=True, mutable=['batch_stats'])
  return steps.cross_entropy_loss(logits, jnp.asarray(y), 0.2).sum(), (logits, upd)
(loss, (logits, upd)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
ev = m.apply({'params': params, 'batch_stats': upd['batch_stats']}, jnp.asarray(x), train=False)
flat = {}
for path, a in jax.tree_util.tree_leaves_with_path({'params': params, 'stats': upd['batch_stats'], 'grads': grads}):
  flat['/'.join(str(getattr(k, 'key', k)) for k in path)] = np.asarray(a)
np.savez('/tmp/xcheck/flax.npz', x=x, y=y, logits=np.asarray(logits), eval=np.asarray(ev), loss=np.asarray(loss), **flat)
print(sorted(k for k in flat if k.startswith('params')))
# Three optimizer steps of airbench_sgd on the mean-loss gradients (sum / 8), schedule from the config.
from configs import airbench
from cnnlab import optimizers, schedules
config = airbench.get_config(); config.batch_size = 8
tx = optimizers.create_optimizer(config, 2, 6, frozen=models.frozen_params(m))
sched = schedules.create_schedule(config, 2, 6)
st = tx.init(params); p = params
mean_grads = jax.tree.map(lambda g: g / 8, grads)
for i in range(3):
  u, st = tx.update(mean_grads, st, p); p = optax.apply_updates(p, u)
out = {}
for path, a in jax.tree_util.tree_leaves_with_path(p):
  out['/'.join(str(getattr(k, 'key', k)) for k in path)] = np.asarray(a)
np.savez('/tmp/xcheck/flax_steps.npz', mult=np.array([float(sched(i)) / 11.5 for i in range(6)]), **out)
