"""The one exception type that means "the user can fix this"."""


class UserError(Exception):
  """Bad input: the message names the problem and the fix.

  Entry points catch it, print the message without a traceback and exit with
  status 2, so scripts and schedulers see a failure.
  """
