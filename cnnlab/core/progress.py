"""A dependency-free progress bar with ETA and live metrics.

On a terminal it redraws one line; in a log file (CI, SLURM) it prints a
line every 10% so logs stay short.
"""
import sys
import time
from typing import Optional, TextIO


def format_seconds(seconds: float) -> str:
  seconds = int(max(0, seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


class ProgressBar:
  """Progress of `total` units; `update(done, loss=..., acc=...)` with absolute counts."""

  def __init__(self, total: int, desc: str = '', stream: Optional[TextIO] = None,
               enabled: bool = True, width: int = 25):
    self.total = max(1, total)
    self.desc = desc
    self.stream = stream or sys.stderr
    self.enabled = enabled
    self.width = width
    self.start = time.monotonic()
    self.first_done = None
    self.interactive = hasattr(self.stream, 'isatty') and self.stream.isatty()
    self._last_decile = -1

  def __enter__(self) -> 'ProgressBar':
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def update(self, done: int, **metrics: float) -> None:
    if not self.enabled:
      return
    now = time.monotonic()
    if self.first_done is None:
      # The first update includes compilation: measure the rate after it.
      self.first_done, self.first_time = done, now
      rate = 0.0
    else:
      rate = (done - self.first_done) / max(now - self.first_time, 1e-9)
    eta = (self.total - done) / rate if rate > 0 else float('nan')
    filled = int(self.width * done / self.total)
    bar = '#' * filled + '.' * (self.width - filled)
    parts = [f'{self.desc} [{bar}] {done}/{self.total}',
             f'{format_seconds(now - self.start)}<{format_seconds(eta) if rate else "?"}']
    parts += [f'{k} {v:.4g}' for k, v in metrics.items()]
    line = '  '.join(parts)
    if self.interactive:
      self.stream.write('\r' + line + '\033[K')
      self.stream.flush()
    else:
      decile = 10 * done // self.total
      if decile != self._last_decile:
        self._last_decile = decile
        self.stream.write(line + '\n')
        self.stream.flush()

  def close(self) -> None:
    if self.enabled and self.interactive:
      self.stream.write('\n')
      self.stream.flush()
