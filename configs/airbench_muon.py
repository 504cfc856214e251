r"""airbench94_muon in cnnlab: Muon on the conv filters, batch 2000, 8 epochs.

  python -m cnnlab.main --config=configs/airbench_muon.py --workdir=runs/fast_muon

The recipe of KellerJordan/cifar10-airbench `airbench94_muon.py` (94.01% mean
test accuracy, n=200, 2.59 s on an A100): the airbench net with logits
divided by 256 (the last width) and a head initialised at std 1; Muon
(optax.contrib.muon, 3 Newton-Schulz steps, momentum 0.6, Nesterov) at lr
0.24 on the conv filters, which are renormalized to norm sqrt(out channels)
before each step; Nesterov SGD (momentum 0.85) on the summed loss for the
BatchNorm and whitening biases (lr 0.053) and the head (lr 0.67) with weight
decay 2e-6 x batch; every lr decays linearly to 0; the whitening bias trains
for 3 epochs; label smoothing 0.2; no lookahead; flip + translate(2); TTA level 2.

Deliberate differences: optax's Muon momentum is an EMA with bias correction
(PyTorch's: a plain sum), the same direction after normalization except in
the first steps; Newton-Schulz runs in float32 (airbench: bfloat16); the
whitening bias's lr follows the shared linear decay instead of its own
3-epoch decay; 45,000 training images unless val_fraction=0.
Not measured to 94% on this CPU (8 epochs of the full net take about an
hour here): benchmarks/time_to_accuracy.md lists what was run.
"""
from configs import airbench


def get_config():
  config = airbench.get_config()
  config.model.logit_scale = 1.0 / 256.0  # airbench94_muon divides by the last width
  config.model.head_init = 'unit_std'
  config.optimizer.name = 'airbench_muon'
  config.optimizer.lr = 0.24  # Muon, conv filters
  config.optimizer.momentum = 0.6  # Muon
  config.optimizer.bias_lr = 0.053
  config.optimizer.head_lr = 0.67
  config.optimizer.sgd_momentum = 0.85
  config.optimizer.weight_decay = 2e-6  # per example: x batch_size per step
  # Linear decay to 0 over the run: the triangle with no rise.
  config.schedule.name = 'triangle'
  config.schedule.pct_start = 0.0
  config.schedule.start_scale = 1.0
  config.schedule.end_scale = 0.0
  config.lookahead.every_steps = 0
  config.batch_size = 2000
  config.num_epochs = 8.0
  return config
