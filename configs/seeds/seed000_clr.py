r"""Seed 000: cyclical learning rate (triangular, 0.001-0.01, half-cycle 2 epochs), SGD, 300 epochs.

  python -m cnnlab.main --config=configs/seeds/seed000_clr.py \
      --workdir=runs/seeds/seed000_clr

Seed 000 (lines 1232-1267) trains with bckenstler's CyclicLR(base_lr=0.001,
max_lr=0.01, step_size=2 * iters_per_epoch = 160 steps, mode='triangular'),
which sets the lr of its Keras SGD (momentum 0) every batch, batch 500, 300
epochs. It continued from the model it had already trained (the baseline's
300 epochs, then the 52 epochs of its LR range test: `clr_model = lr_finder`
is that same model, line 1248). The seed printed no number for this run
(verbose=0; only a dashboard figure, line 1301).
cnnlab: not run here: the seed printed no number for it, and it starts from
the baseline's 300 epochs: 600 epochs in all, about 18 hours on this shared
2-core CPU (109 s per epoch measured for seed000_baseline).

cnnlab starts from the baseline's checkpoint (config.init_from; run
configs/seeds/seed000_baseline.py first, or set --config.init_from='' to
train from scratch): the LR range test's 52 epochs of weight updates are
not kept by cnnlab.lr_find. The optimizer state starts fresh (plain SGD has
none). log_step_records writes steps.jsonl (step, lr, loss, accuracy), from
which the report draws the seed's per-batch plots.
"""
from configs.seeds import seed000_common


def get_config():
  config = seed000_common.get_config()
  config.init_from = 'runs/seeds/seed000_baseline'
  config.schedule.name = 'triangular'
  config.optimizer.lr = 0.01  # CLR's max_lr
  config.schedule.min_lr = 0.001  # CLR's base_lr
  config.schedule.step_size_steps = 160  # 2 epochs x 80 steps, as the seed counts them
  config.num_epochs = 300
  config.log_step_records = True
  return config
