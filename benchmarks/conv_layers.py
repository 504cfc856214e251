r"""Where a CPU train step's time goes: each conv layer's forward, input-gradient and
kernel-gradient time and GFLOP/s, per cnnlab.lowering choice, beside the
machine's dot rate (the practical peak) in float32 and bfloat16.

  python benchmarks/conv_layers.py --model=vgg                # seed-004 VGG, batch 128
  python benchmarks/conv_layers.py --model=airbench_cpu --batch_size=512
  XLA_FLAGS=... python benchmarks/conv_layers.py              # another flag profile

Run it with the XLA flags you want to study (by default cnnlab's rule for this
CPU, as the commands set them). Each timing is the median of --repeats calls.
Every layer's dx is timed, the first one's too (a train step skips it).
PyTorch's (oneDNN) same layers: benchmarks/peers/torch_conv_layers.py.
"""
import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# (spatial size, in channels, out channels) of each 3x3 'same' conv of the model.
LAYERS = {
    'vgg': [(32, 3, 32), (32, 32, 32), (16, 32, 64), (16, 64, 64), (8, 64, 128), (8, 128, 128),
            (8, 128, 128)],
    'airbench_cpu': [(31, 24, 64), (15, 64, 64), (15, 64, 128), (7, 128, 128), (7, 128, 256),
                     (3, 256, 256)],
    'resnet20': [(32, 3, 16)] + [(32, 16, 16)] * 6 + [(16, 32, 32)] * 6 + [(8, 64, 64)] * 6,
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model', default='vgg', choices=sorted(LAYERS))
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--lowerings', default='xla/float32,xla/bfloat16,im2col/float32,'
                                             'im2col/bfloat16,shifted/float32')
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()

  from cnnlab.core import machine, xla_flags  # pylint: disable=g-import-not-at-top
  xla_flags.set_cpu_defaults(machine.resolve(None)['xla_cpu'])
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from jax import lax  # pylint: disable=g-import-not-at-top
  from cnnlab import lowering  # pylint: disable=g-import-not-at-top

  def seconds(fn, *a):
    jax.block_until_ready(fn(*a))
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      jax.block_until_ready(fn(*a))
      times.append(time.perf_counter() - start)
    return statistics.median(times)

  cpu = machine.describe()
  print(f"CPU: {cpu['model']}, {cpu['cores']} cores, class {cpu['class']} "
        f"(flags: {' '.join(cpu['flags'])}); XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
  a = jnp.ones((2048, 2048), jnp.float32)
  dots = {'float32': jax.jit(lambda a: a @ a),
          'bfloat16 -> float32': jax.jit(lambda a: lax.dot(
              a.astype(jnp.bfloat16), a.astype(jnp.bfloat16), preferred_element_type=jnp.float32)),
          'bfloat16 -> bfloat16': jax.jit(lambda a: a.astype(jnp.bfloat16) @ a.astype(jnp.bfloat16))}
  for name, fn in dots.items():
    print(f'dot 2048^3 {name:22s} {2 * 2048 ** 3 / seconds(fn, a) / 1e9:6.0f} GFLOP/s')

  conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), 'SAME',
                                               dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  print(f'\n{args.model}, batch {args.batch_size}: ms per call (GFLOP/s of fwd+dx+dw)')
  for spec in args.lowerings.split(','):
    conv_name, dtype = spec.split('/')
    fn = lowering.Lowering(conv_name, dtype).wrap(conv)
    total = {'fwd': 0.0, 'dx': 0.0, 'dw': 0.0}
    flops = 0
    for size, cin, cout in LAYERS[args.model]:
      key = jax.random.key(0)
      x = jax.random.normal(key, (args.batch_size, size, size, cin))
      w = jax.random.normal(key, (3, 3, cin, cout)) * 0.1
      g = jax.random.normal(key, (args.batch_size, size, size, cout))
      total['fwd'] += seconds(jax.jit(fn), x, w)
      total['dx'] += seconds(jax.jit(lambda x, w, g: jax.vjp(lambda x: fn(x, w), x)[1](g)[0]),
                             x, w, g)
      total['dw'] += seconds(jax.jit(lambda x, w, g: jax.vjp(lambda w: fn(x, w), w)[1](g)[0]),
                             x, w, g)
      flops += 3 * 2 * args.batch_size * size * size * 9 * cin * cout
    step = sum(total.values())
    print(f"  {spec:18s} fwd {total['fwd'] * 1e3:6.0f}  dx {total['dx'] * 1e3:6.0f}  "
          f"dw {total['dw'] * 1e3:6.0f}  sum {step * 1e3:6.0f} ms  ({flops / step / 1e9:4.0f} "
          f"GFLOP/s, {args.batch_size / step:5.0f} img/s conv-bound)", flush=True)


if __name__ == '__main__':
  main()
