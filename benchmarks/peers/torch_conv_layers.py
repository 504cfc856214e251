r"""PyTorch's (oneDNN) time for the conv layers of benchmarks/conv_layers.py, fwd + bwd.

  benchmarks/peers/.venv/bin/python benchmarks/peers/torch_conv_layers.py --model=vgg

channels_last, float32 and CPU autocast to bfloat16; the first layer computes no input
gradient (as in a train step). Median of --repeats steps.
"""
import argparse
import importlib.util
import os
import statistics
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('conv_layers',
                                              os.path.join(HERE, '..', 'conv_layers.py'))
conv_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conv_layers)  # only its LAYERS table: it imports JAX inside main()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model', default='vgg', choices=sorted(conv_layers.LAYERS))
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  torch.manual_seed(0)
  print(f'torch {torch.__version__}, {torch.get_num_threads()} threads')
  for dtype in (torch.float32, torch.bfloat16):
    total, flops = 0.0, 0
    for i, (size, cin, cout) in enumerate(conv_layers.LAYERS[args.model]):
      conv = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False).to(
          memory_format=torch.channels_last)
      x = torch.randn(args.batch_size, cin, size, size).to(
          memory_format=torch.channels_last).requires_grad_(i > 0)

      def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
          y = conv(x)
        (y.float() ** 2).sum().backward()

      step()
      times = []
      for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
      total += statistics.median(times)
      flops += (3 if i > 0 else 2) * 2 * args.batch_size * size * size * 9 * cin * cout
    print(f'  {str(dtype):15s} fwd+dx+dw {total * 1e3:6.0f} ms  ({flops / total / 1e9:4.0f} '
          f'GFLOP/s, {args.batch_size / total:5.0f} img/s conv-bound)')
  a = torch.randn(2048, 2048)
  for dtype in (torch.float32, torch.bfloat16):
    b = a.to(dtype)
    b @ b
    start = time.perf_counter()
    for _ in range(5):
      b @ b
    print(f'dot 2048^3 {str(dtype):15s} {2 * 2048 ** 3 * 5 / (time.perf_counter() - start) / 1e9:6.0f} GFLOP/s')


if __name__ == '__main__':
  main()
