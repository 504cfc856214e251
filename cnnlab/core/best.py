"""Which evaluation is the best so far, and when to stop waiting for a better one."""
from typing import Any, Dict, Iterable


class BestTracker:
  """The best value of one metric (higher is better) and the evaluations since it.

  A resumed run rebuilds it by replaying its history (`replay`), so it decides
  exactly as the uninterrupted run would: a tie is not an improvement.
  """

  def __init__(self, key: str, patience: int = 0):
    self.key = key  # the record field compared, e.g. 'val_accuracy'
    self.patience = patience  # evaluations without improvement before stopping; 0 = never
    self.best = float('-inf')
    self.best_step = None
    self.evals_since_best = 0

  def update(self, value: float, step: Any = None) -> bool:
    """Records one evaluation; True when it is a new best."""
    if value > self.best:
      self.best, self.best_step, self.evals_since_best = value, step, 0
      return True
    self.evals_since_best += 1
    return False

  def replay(self, records: Iterable[Dict[str, Any]]) -> 'BestTracker':
    """update() with every record that holds the metric, in order."""
    for r in records:
      if self.key in r:
        self.update(r[self.key], r.get('step'))
    return self

  @property
  def should_stop(self) -> bool:
    return bool(self.patience) and self.evals_since_best >= self.patience
