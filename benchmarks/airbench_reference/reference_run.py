"""airbench's own training code, unmodified, on cnnlab's split of the shared JPEG folder.

The question it answers: is the gap between cnnlab's airbench and the published 94% in
cnnlab's implementation or in the data? This runs `airbench.train94` from a snapshot of
KellerJordan/cifar10-airbench (imported from --airbench, not copied here) on the CPU in
float32, on the train/val arrays dump_split.py wrote from a cnnlab config, with the same
widths, batch, epochs and hyperparameters as that config. Only the CUDA calls are
redirected (cuda() and half() become no-ops, CUDA events become a wall clock) and the
loader reads the npz instead of torchvision's download; airbench's val is cnnlab's val.

  python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0 numpy
  /tmp/tv/bin/python benchmarks/airbench_reference/reference_run.py --airbench=<snapshot dir> \
      --split=/tmp/airbench_ref/split_s0.npz --widths=64,128,256 --batch_size=512 --epochs=8
"""
import argparse
import os
import sys
import time
import types

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument('--airbench', required=True, help='directory holding the airbench package')
parser.add_argument('--split', required=True, help='npz from dump_split.py')
parser.add_argument('--widths', default='64,256,256')
parser.add_argument('--batch_size', type=int, default=1024)
parser.add_argument('--epochs', type=float, default=9.9)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()

# CPU stand-ins for the CUDA-only calls airbench makes; float32 throughout.
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.nn.Module.half = lambda self: self
torch.Tensor.half = lambda self: self.float()


class WallClockEvent:
  def __init__(self, enable_timing=True):
    self.t = None

  def record(self):
    self.t = time.perf_counter()

  def elapsed_time(self, end):
    return 1e3 * (end.t - self.t)


torch.cuda.Event = WallClockEvent
torch.cuda.synchronize = lambda *a, **k: None

# airbench uses torchvision only for its CIFAR download (not reached: the arrays are written
# below) and transforms.Normalize; the registry's torchvision does not match the CPU torch
# build, so Normalize is given here: (x - mean) / std per channel, as torchvision defines it.
class Normalize:
  def __init__(self, mean, std):
    self.mean, self.std = torch.as_tensor(mean), torch.as_tensor(std)

  def __call__(self, x):
    return (x - self.mean.view(-1, 1, 1)) / self.std.view(-1, 1, 1)


_tv = types.ModuleType('torchvision')
_tv.transforms = types.SimpleNamespace(Normalize=Normalize)
sys.modules['torchvision'] = _tv
sys.modules['torchvision.transforms'] = _tv.transforms

# airbench's CifarLoader reads <cwd>/cifar10/{train,test}.pt with map_location='cuda'.
_load = torch.load
torch.load = lambda path, map_location=None, **k: _load(path, map_location='cpu', **k)
work = os.path.join(os.path.dirname(os.path.abspath(args.split)), 'cwd')
os.makedirs(os.path.join(work, 'cifar10'), exist_ok=True)
d = np.load(args.split)
classes = [str(c) for c in d['classes']]
for name, part in (('train', 'train'), ('test', 'val')):
  torch.save({'images': torch.tensor(d[f'{part}_images']),
              'labels': torch.tensor(d[f'{part}_labels'].astype(np.int64)),
              'classes': classes}, os.path.join(work, 'cifar10', f'{name}.pt'))
os.chdir(work)

sys.path.insert(0, args.airbench)
import airbench  # noqa: E402
from airbench import lib_airbench94  # noqa: E402

torch.manual_seed(args.seed)
w = [int(x) for x in args.widths.split(',')]
widths = {'block1': w[0], 'block2': w[1], 'block3': w[2]}
loader = airbench.CifarLoader('cifar10', train=True, batch_size=args.batch_size,
                              aug=lib_airbench94.hyp['aug'], altflip=True)
print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; train {len(loader.images)}, '
      f'widths {widths}, batch {args.batch_size}, epochs {args.epochs}', flush=True)
start = time.perf_counter()
airbench.train94(loader, epochs=args.epochs,
                 make_net=lambda: lib_airbench94.make_net94(widths=widths))
print(f'wall {time.perf_counter() - start:.0f} s', flush=True)
