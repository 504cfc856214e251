"""Trains an LSTM to do multi-digit arithmetic from examples.

  python -m seq2seq.main --config=configs/seq2seq/addition.py --workdir=runs/add
  python -m seq2seq.main --config=configs/seq2seq/subtract.py --workdir=runs/sub \
      --config.num_digits=4

Rerunning with the same --workdir resumes from its latest checkpoint; Ctrl-C
saves one and exits with status 130. Evaluations (one line each) go to
<workdir>/metrics.jsonl. Ask a trained run (its best checkpoint) questions:

  python -m seq2seq.main --workdir=runs/sub --question=535-71 --question=7-900

Under SLURM (`srun`), on a multi-host TPU VM, or with --multihost, every
process runs this same command and JAX forms one cluster (launch/ has the
launchers); only process 0 prints and writes metrics.
"""
import os
import sys

from absl import flags
from absl import logging as absl_logging

from cnnlab.core import cli
from cnnlab.core import parallel
from seq2seq import train

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               'configs', 'seq2seq', 'addition.py')
FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does."""
  cli.define_workdir('Checkpoints and metrics go here; an existing run resumes.', 'runs/seq2seq')
  flags.DEFINE_multi_string(
      'question', None, 'Instead of training, answer this question ("535-71", repeatable) '
      'with the best checkpoint of --workdir (the config comes from the workdir).')
  cli.define_config(_DEFAULT_CONFIG)
  cli.define_multihost()


def main(argv):
  def run():
    if FLAGS.question:
      for _, line in train.predict(FLAGS.workdir, FLAGS.question, color=sys.stdout.isatty()):
        print(line)
      return
    parallel.join_cluster(FLAGS.multihost)
    absl_logging.set_verbosity(absl_logging.WARNING)
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
