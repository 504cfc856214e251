"""What every cnnlab entry point does around its work: logging and clean failures."""
import logging
import sys
from typing import Callable

from absl import logging as absl_logging

from cnnlab.errors import UserError


def configure_logging() -> None:
  """cnnlab's own INFO lines; libraries (orbax logs every save) only from WARNING."""
  absl_logging.set_verbosity(absl_logging.INFO)
  logging.getLogger().setLevel(logging.INFO)
  logging.getLogger('absl').setLevel(logging.WARNING)


def run_main(fn: Callable[[], object]) -> None:
  """Runs fn; a UserError prints its message (no traceback) and exits 2, Ctrl-C exits 130."""
  configure_logging()
  try:
    fn()
  except UserError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  except KeyboardInterrupt:
    print('interrupted', file=sys.stderr)
    sys.exit(130)
