"""Writes cnnlab's train/val split of a config as uint8 arrays for the reference run.

  python benchmarks/airbench_reference/dump_split.py --config=configs/airbench_cpu.py \
      --out=/tmp/airbench_ref/split_s0.npz [--config.seed=0]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402
import numpy as np  # noqa: E402

from cnnlab import input_pipeline  # noqa: E402

config_flags.DEFINE_config_file('config', None, 'cnnlab config whose split to write.')
flags.DEFINE_string('out', None, 'npz to write.')


def main(_):
  config = flags.FLAGS.config
  train, val = input_pipeline.load_splits(config)
  os.makedirs(os.path.dirname(os.path.abspath(flags.FLAGS.out)), exist_ok=True)
  np.savez(flags.FLAGS.out, train_images=train.images, train_labels=train.labels,
           val_images=val.images, val_labels=val.labels, classes=np.array(train.class_names))
  print(f'{flags.FLAGS.out}: train {train.images.shape}, val {val.images.shape}')


if __name__ == '__main__':
  flags.mark_flags_as_required(['config', 'out'])
  app.run(main)
