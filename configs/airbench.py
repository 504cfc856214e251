r"""airbench94 in cnnlab: 94% on CIFAR-10 in under 10 epochs (Jordan 2024).

  python -m cnnlab.main --config=configs/airbench.py --workdir=runs/fast
  python -m cnnlab.main --config=configs/airbench.py --workdir=runs/fast50k \
      --config.data.val_fraction=0          # all 50,000 images, as airbench trains
  python -m cnnlab.evaluate --workdir=runs/fast --data_dir=<folder> --tta=airbench

The recipe of KellerJordan/cifar10-airbench `legacy/airbench94.py` (94.01%
mean test accuracy, n=1000, 3.83 s on an A100), piece by piece:
  model     airbench: frozen 2x2 patch-whitening conv (24 channels, fitted on
            5,000 training images) + GELU, ConvGroups of 64/256/256 with dirac
            init and BN (scale frozen at 1, eps 1e-12, momentum 0.6 in Flax's
            convention), max pool 3, bias-free linear head, logits / 9;
            1,971,640 parameters (airbench's PyTorch count adds the 1,152
            frozen BN scales).
  optimizer airbench_sgd: Nesterov SGD, lr 11.5 and weight decay 0.0153 per
            1024 examples, momentum 0.85, BN biases at 64x lr; the whitening
            bias trains for the first 3 epochs only.
  schedule  triangle: 0.2 -> 1.0 at 23% of the steps -> 0.07 (x lr).
  loss      label smoothing 0.2.
  lookahead EMA every 5 steps from epoch 3, decay 0.95^5 (step/total)^3,
            copied into the net (the last step leaves the net at the EMA).
  data      batch 1024, 9.9 epochs, alternating flip + 2-pixel translate with
            reflect ('mirror') padding, per-channel normalization fitted on
            the training split; TTA 'airbench' (level 2) at the end.

Deliberate differences: the validation split (5,000 images by default) is
carved from the training folder, so 45,000 images train (val_fraction=0 trains
on all 50,000); the images are the shared folder's JPEG re-encodings;
normalization statistics are fitted on the training split instead of
airbench's fixed CIFAR constants (the same numbers to 3 digits).

Measured (benchmarks/time_to_accuracy.md): on 2 vCPUs of an AMD EPYC 9004 (Zen 4),
seed 0, 10 epochs: val accuracy 0.8912, 0.9038 with TTA, ~50 minutes alone (159 images/s;
the measured run took 74 minutes sharing the CPU). Airbench's 94% is not reached on these
JPEG re-encodings (quality 75, 4:2:0 chroma); the implementation matches airbench94 in PyTorch
(benchmarks/airbench_torch_check/), and airbench's own code on the same split scores as cnnlab
does (benchmarks/airbench_reference/, at airbench_cpu's settings).
"""
from configs import base


def get_config():
  config = base.get_config()
  config.model.name = 'airbench'
  config.model.widths = (64, 256, 256)
  # airbench's training-time augmentation: every image is seen mirrored in
  # alternate epochs (derandomized flip), shifted by up to 2 pixels.
  config.augment = ("flip_lr(alternate=True)|pad_crop(2, fill_mode='mirror')|"
                    'featurewise_center|featurewise_std')
  config.optimizer.name = 'airbench_sgd'
  config.optimizer.lr = 11.5  # per 1024 examples (airbench_sgd scales it to the batch)
  config.optimizer.momentum = 0.85
  config.optimizer.nesterov = True
  config.optimizer.weight_decay = 0.0153  # per 1024 examples, decoupled from lr
  config.optimizer.norm_bias_lr_scale = 64.0
  config.schedule.name = 'triangle'
  config.schedule.pct_start = 0.23
  config.schedule.start_scale = 0.2
  config.schedule.end_scale = 0.07
  config.train_only_first = r'^whiten/bias$'
  config.train_only_first_epochs = 3.0
  config.lookahead.every_steps = 5
  config.lookahead.start_epochs = 3.0
  config.lookahead.decay_base = 0.95
  config.lookahead.decay_power = 3.0
  config.label_smoothing = 0.2
  config.batch_size = 1024
  config.eval_batch_size = 1000
  config.num_epochs = 9.9
  config.tta = 'airbench'
  # The run is minutes long on a CPU: one checkpoint per epoch is enough.
  config.max_checkpoints_to_keep = 1
  return config
