r"""Seed 000: the baseline, plain SGD lr 0.001 for 300 epochs (protocol: configs/seeds/seed000_common.py).

  python -m cnnlab.main --config=configs/seeds/seed000_baseline.py \
      --workdir=runs/seeds/seed000_baseline

Seed 000 compiles `optimizers.SGD(lr=0.001)` (momentum 0, line 291), batch
500, 300 epochs (lines 286-303), and printed val_categorical_accuracy 0.5586
after epoch 300 (line 907; its val overlaps its training set, see
seed000_common).
cnnlab (cut short to 10 epochs, benchmarks/seeds.md): val accuracy 0.2438 after
epoch 10 against the seed's 0.2554 there (line 327), within 0.012 of the
seed's curve at every one of the 10 epochs (0.1957 against 0.1992 at epoch 5).
The full 300 epochs take about 8-9 hours on this 2-core CPU (96-109 s per
epoch measured).

The seed's LR range test (lines 1117-1229) then continued from these trained
weights with bckenstler's CyclicLR as a linear ramp: base_lr 0.001 to max_lr
0.1 over step_size = 50 epochs x 80 = 4,000 steps (one rising half-cycle),
then 0.001 to 0.02 over 2 epochs (160 steps), plotting the per-batch
accuracy's moving average against lr; it read 0.008 as the top (line 1229).
The same ramps with cnnlab's lr_find (one step per lr, linear):

  python -m cnnlab.lr_find --config=configs/seeds/seed000_baseline.py \
      --config.init_from=runs/seeds/seed000_baseline --out=runs/seeds/seed000_lr_find \
      --sweep=linear --min_lr=0.001 --max_lr=0.1 --num_steps=4000
  python -m cnnlab.lr_find --config=configs/seeds/seed000_baseline.py \
      --config.init_from=runs/seeds/seed000_baseline --out=runs/seeds/seed000_lr_find2 \
      --sweep=linear --min_lr=0.001 --max_lr=0.02 --num_steps=160

Differences: lr_find stops early if the smoothed loss passes --diverge (4)
times its minimum (the seed's ramp ran to the end: "the model never stopped
converging", line 1183); each lr_find starts from the baseline's weights
(the seed's second ramp continued from the first one's, and its CLR run
from both: lr_find keeps no weights).
"""
from configs.seeds import seed000_common


def get_config():
  config = seed000_common.get_config()
  config.optimizer.lr = 0.001
  config.num_epochs = 300
  return config
