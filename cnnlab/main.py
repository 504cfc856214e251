r"""Trains a cnnlab model.

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg \
      --config.optimizer.name=adam --config.num_epochs=30

Rerunning with the same --workdir resumes from its latest checkpoint. Under
SLURM (`srun`), on a multi-host TPU VM, or with --multihost, every process runs
this same command and JAX forms one cluster (launch/ has the launchers).
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from cnnlab.core import cli
from cnnlab.core import parallel

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  config_flags.DEFINE_config_file('config', 'configs/vgg.py', 'Training configuration file.',
                                  lock_config=True)
  flags.DEFINE_string('workdir', 'runs/default', 'Where checkpoints, metrics and reports go.')
  flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (auto-detected '
                    'under SLURM / TPU VMs / JAX_COORDINATOR_ADDRESS).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  from cnnlab import train

  def run():
    # Before any JAX computation; inside run_main so a bad setup is a clean error.
    parallel.initialize_distributed(FLAGS.multihost)
    parallel.quiet_other_processes()  # after run_main configured logging
    return train.train_and_evaluate(FLAGS.config, FLAGS.workdir)

  cli.run_main(run)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
