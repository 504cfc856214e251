r"""Trains a cnnlab model.

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg \
      --config.optimizer.name=adam --config.num_epochs=30

Rerunning with the same --workdir resumes from its latest checkpoint.
"""
from absl import app
from absl import flags
from ml_collections import config_flags

from cnnlab import cli
from cnnlab import parallel

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', 'configs/vgg.py', 'Training configuration file.',
                                lock_config=True)
flags.DEFINE_string('workdir', 'runs/default', 'Where checkpoints, metrics and reports go.')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (auto-detected '
                  'under SLURM / TPU VMs / JAX_COORDINATOR_ADDRESS).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  parallel.initialize_distributed(FLAGS.multihost)
  from cnnlab import train  # pylint: disable=g-import-not-at-top
  cli.run_main(lambda: train.train_and_evaluate(FLAGS.config, FLAGS.workdir))


if __name__ == '__main__':
  app.run(main)
