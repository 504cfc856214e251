r"""Seed 000's LR range test as it ran it: 50 epochs of SGD while CyclicLR ramps the lr 0.001 -> 0.1.

  python -m cnnlab.main --config=configs/seeds/seed000_lr_range.py \
      --workdir=runs/seeds/seed000_lr_range
  # its 2-epoch continuation, 0.001 -> 0.02 (lines 1189-1203):
  python -m cnnlab.main --config=configs/seeds/seed000_lr_range.py \
      --workdir=runs/seeds/seed000_lr_range2 --config.init_from=runs/seeds/seed000_lr_range \
      --config.optimizer.lr=0.02 --config.schedule.step_size_steps=160 --config.num_epochs=2

Seed 000 (lines 1119-1151; seed 001 is another rendering of the same
notebook) takes the model it trained (`lr_finder = model`, the baseline's
300 epochs), compiles it with plain SGD and trains 50 epochs at batch 500
with bckenstler's CyclicLR(base_lr=0.001, max_lr=0.1, step_size=num_epochs *
iters_per_epoch = 4,000 steps, mode='triangular'): one rising half-cycle, a
linear ramp over the whole run. It then plots the moving average (50
batches) of the per-batch accuracy against the lr (lines 1156-1169; a figure,
no number printed: verbose=0) and reads its CLR bounds off that figure.
cnnlab: the same run (triangular with a 4,000-step half-cycle is the linear
ramp; log_step_records writes steps.jsonl, from which the report draws the
accuracy's moving average against lr, the seed's figure). Not run here: it
continues the baseline's 300 epochs (about 9 h on this 2-core CPU, 109 s per
epoch measured for seed000_baseline), and its one output is a figure.
`python -m cnnlab.lr_find --config=configs/seeds/seed000_baseline.py --sweep=linear
--min_lr=0.001 --max_lr=0.1 --num_steps=4000 --out=runs/lr_find` is the same
ramp as cnnlab's LR range test command (one step per lr, from the config's
initial weights, no workdir; fewer --num_steps for a quick look).
"""
from configs.seeds import seed000_common


def get_config():
  config = seed000_common.get_config()
  config.init_from = 'runs/seeds/seed000_baseline'  # lr_finder = model: the trained baseline
  config.schedule.name = 'triangular'
  config.optimizer.lr = 0.1  # CyclicLR's max_lr
  config.schedule.min_lr = 0.001  # its base_lr
  config.schedule.step_size_steps = 4000  # num_epochs * iters_per_epoch = 50 x 80
  config.num_epochs = 50
  config.log_step_records = True
  return config
