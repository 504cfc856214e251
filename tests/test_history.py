"""metrics.jsonl: appended per epoch, cut back to the restored step on resume."""
from cnnlab.core import history


def test_truncate_after_rewrites_only_when_asked(tmp_path):
  workdir = str(tmp_path)
  for step in (10, 20, 30):
    history.append(workdir, {'step': step})
  # Another process's view: the kept records, the file untouched.
  assert history.truncate_after(workdir, 20, rewrite=False) == [{'step': 10}, {'step': 20}]
  assert [r['step'] for r in history.read(workdir)] == [10, 20, 30]
  # Process 0 rewrites it.
  assert history.truncate_after(workdir, 20) == [{'step': 10}, {'step': 20}]
  assert [r['step'] for r in history.read(workdir)] == [10, 20]


def test_partial_epoch_metrics_by_step_keep_the_newest(tmp_path):
  from cnnlab.core import history  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path)
  assert history.load_partial(workdir, 5) == []
  for step in (2, 5, 6, 9):
    history.save_partial(workdir, step, [{'loss': step + 0.5, 'accuracy': 0.25}] * (step % 4),
                         keep=3)
  assert history.load_partial(workdir, 2) == []  # pruned: only the 3 newest stay
  assert history.load_partial(workdir, 5) == [{'loss': 5.5, 'accuracy': 0.25}]
  assert history.load_partial(workdir, 9) == [{'loss': 9.5, 'accuracy': 0.25}]
  assert history.load_partial(workdir, 7) == []
