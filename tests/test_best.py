"""cnnlab.core.best: the best evaluation so far and early stopping, exact on replay."""
import pytest

from cnnlab.core.best import BestTracker


def test_update_counts_evaluations_since_the_best_and_ties_do_not_improve():
  tracker = BestTracker('val_accuracy', patience=2)
  assert tracker.update(0.5, 1) and tracker.update(0.6, 2)
  assert not tracker.update(0.6, 3)  # a tie is not an improvement
  assert (tracker.best, tracker.best_step, tracker.evals_since_best) == (0.6, 2, 1)
  assert not tracker.should_stop
  assert not tracker.update(0.55, 4)
  assert tracker.should_stop


@pytest.mark.parametrize('values', [[0.5, 0.6, 0.6], [0.3, 0.2, 0.4, 0.4, 0.1], [0.9]])
def test_replay_of_a_history_decides_as_the_live_run_did(values):
  live = BestTracker('val_accuracy', patience=3)
  for step, v in enumerate(values, 1):
    live.update(v, step)
  records = [{'step': s, 'train_loss': 1.0} for s in range(1, len(values) + 1)]
  for r, v in zip(records, values):
    r['val_accuracy'] = v
  records.insert(1, {'step': 0, 'train_loss': 2.0})  # records without the metric are skipped
  replayed = BestTracker('val_accuracy', patience=3).replay(records)
  assert (replayed.best, replayed.best_step, replayed.evals_since_best, replayed.should_stop) == (
      live.best, live.best_step, live.evals_since_best, live.should_stop)


def test_patience_zero_never_stops():
  tracker = BestTracker('val_accuracy')
  tracker.update(1.0)
  for _ in range(50):
    tracker.update(0.0)
  assert not tracker.should_stop
