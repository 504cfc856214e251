"""What every entry point (both labs' commands) does around its work.

`run_command(main, define_flags)` is the one preamble: cnnlab's CPU XLA flags
(cnnlab.core.xla_flags, the profile the CPU's rule or config.compute.xla_cpu
names), then the command's flags (defined only when it runs
as a command, so a notebook can import every command module), then absl's
parsing with one-line errors (`parse_flags`). `run_main` inside `main` turns a
UserError into a message and exit status 2, Ctrl-C into status 130.

The flags several commands share (`define_config`, `define_workdir`,
`define_multihost`, `define_step`, `define_tta`) are written once here; each
belongs to the command that defines it, so its --help lists it.
"""
import logging
import os
import sys
from typing import Callable, Optional, Sequence

from absl import app
from absl import flags
from absl import logging as absl_logging
from ml_collections import config_flags

from cnnlab.core import configs
from cnnlab.core import machine
from cnnlab.core import xla_flags
from cnnlab.core.errors import UserError

# absl files a flag under the module that called DEFINE_*: skipping this one
# files the definers' flags under the command calling them, whose --help lists them.
flags.disclaim_key_flags()

DEFAULT_CONFIG = 'configs/vgg.py'


def define_config(default: str = DEFAULT_CONFIG, help_text: str = 'Training configuration file.',
                  lock_config: bool = True) -> None:
  """--config=<file>[:<arg>] (found from any directory) and its --config.<field>= overrides.

  lock_config: a field the code sets that the config lacks is an error
  rather than a new field.
  """
  config_flags.DEFINE_config_file('config', default, help_text, lock_config=lock_config)


def define_workdir(help_text: str, default: Optional[str] = None) -> None:
  """--workdir: a run's folder; required when there is no default."""
  flags.DEFINE_string('workdir', default, help_text, required=default is None)


def define_multihost() -> None:
  """--multihost for parallel.join_cluster: every process of a cluster runs the command."""
  flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (auto-detected '
                    'under SLURM / TPU VMs / JAX_COORDINATOR_ADDRESS).')


def define_step() -> None:
  """--step: which checkpoint of a run to use."""
  flags.DEFINE_integer('step', None, 'Checkpoint step; default the best one.')


def define_tta(help_text: str = 'Test-time augmentation (cnnlab.tta): identity | flip | '
                                'airbench; empty = none.') -> None:
  """--tta: a cnnlab.tta spec applied at evaluation or prediction."""
  flags.DEFINE_string('tta', '', help_text)


def configure_logging() -> None:
  """cnnlab's own INFO lines; libraries (orbax logs every save) only from WARNING."""
  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger().setLevel(logging.INFO)
  logging.getLogger('absl').setLevel(logging.WARNING)


def run_main(fn: Callable[[], object], argv: Optional[Sequence[str]] = None) -> None:
  """Runs fn; a UserError prints its message (no traceback) and exits 2, Ctrl-C exits 130.

  argv: the command's words left after absl's flags (app.run's argv); any
  there (a flag missing its --, a stray path) is a UserError too, before fn.
  """
  configure_logging()
  try:
    if argv is not None and len(argv) > 1:
      raise UserError(f'unexpected arguments: {" ".join(argv[1:])} (every input is a --flag; '
                      '--helpfull lists them)')
    fn()
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except KeyboardInterrupt:
    print('interrupted', file=sys.stderr)
    sys.exit(130)


def run_command(main: Callable[[list], object],
                define_flags: Callable[[], None] = lambda: None) -> None:
  """`python -m <command>`: XLA flags, the command's flags, then absl's app.run(main).

  XLA reads XLA_FLAGS when JAX starts its first backend (not at `import jax`),
  so setting them here, before main computes anything, is early enough.
  """
  xla_flags.set_cpu_defaults(machine.resolve(None)['xla_cpu'])  # this CPU's rule
  define_flags()
  app.run(main, flags_parser=_parse_then_set_xla_flags)


def _parse_then_set_xla_flags(argv):
  """parse_flags, then the XLA flag profile the parsed config resolves to (still
  before any backend starts; it replaces the rule's profile set before parsing)."""
  argv = parse_flags(argv)
  config = flags.FLAGS['config'].value if 'config' in flags.FLAGS else None
  compute = config.get('compute') if hasattr(config, 'get') else None
  try:
    xla_flags.set_cpu_defaults(machine.resolve(compute)['xla_cpu'])
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  return argv


def _resolve_config_args(argv):
  """argv with `--config=<path>[:<arg>]` pointing at the file from any directory.

  A command whose --config flag is left at its default ('configs/vgg.py')
  gets that default resolved the same way. `--config.<field>=` overrides are
  left alone (ml_collections reads them from sys.argv).
  """
  argv = list(argv)
  if 'config' not in flags.FLAGS:  # evaluate, predict, ...: absl names the unknown flag
    return argv
  given = False
  for i, arg in enumerate(argv):
    if arg == '--':
      break
    for prefix in ('--config=', '-config='):
      if arg.startswith(prefix):
        path, colon, rest = arg[len(prefix):].partition(':')
        argv[i] = prefix + configs.resolve_path(path) + colon + rest
        given = True
    if arg in ('--config', '-config') and i + 1 < len(argv):
      path, colon, rest = argv[i + 1].partition(':')
      argv[i + 1] = configs.resolve_path(path) + colon + rest
      given = True
  if not given:
    default = getattr(flags.FLAGS['config'], 'default_unparsed', None)
    if isinstance(default, str) and default and not os.path.exists(default.partition(':')[0]):
      path, colon, rest = default.partition(':')
      argv.insert(1, '--config=' + configs.resolve_path(path) + colon + rest)
  return argv


def parse_flags(argv):
  """absl flag parsing where a typo (flag or config field) is a one-line error, exit 2.

  `--config=configs/vgg.py` (or a bare name, `--config=vgg`) finds the file
  from any working directory (cnnlab.core.configs.resolve_path). Use as
  `app.run(main, flags_parser=cli.parse_flags)`.
  """
  try:
    argv = _resolve_config_args(argv)
    return flags.FLAGS(argv)
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
  except flags.Error as e:
    print(f'error: {e}\nRun with --helpfull to list the flags.', file=sys.stderr)
  except (KeyError, AttributeError) as e:
    # ml_collections refuses fields the config does not define.
    detail = str(e.args[0] if e.args else e).strip('\'"').replace('\\n', ' ')
    detail = detail.replace("\\'", "'").replace('\n', ' ')
    given = [a.split('=')[0] for a in argv[1:] if a.startswith('--config.')]
    print(f'error: unknown config field ({detail}) in {" ".join(given)}: every field is '
          'defined in the base config (configs/base.py, or configs/seq2seq/base.py for '
          'seq2seq); check the spelling.', file=sys.stderr)
  sys.exit(2)
