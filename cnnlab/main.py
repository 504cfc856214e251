r"""Trains a cnnlab model.

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg \
      --config.optimizer.name=adam --config.num_epochs=30

Rerunning with the same --workdir resumes from its latest checkpoint. Under
SLURM (`srun`), on a multi-host TPU VM, or with --multihost, every process runs
this same command and JAX forms one cluster (launch/ has the launchers).
"""

from absl import flags

from cnnlab import train
from cnnlab.core import cli
from cnnlab.core import parallel

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_config()
  cli.define_workdir('Where checkpoints, metrics and reports go.', 'runs/default')
  cli.define_multihost()


def main(argv):
  def run():
    parallel.join_cluster(FLAGS.multihost)
    return train.train_and_evaluate(FLAGS.config, FLAGS.workdir)

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
