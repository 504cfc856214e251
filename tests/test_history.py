"""metrics.jsonl: appended per epoch, cut back to the restored step on resume."""
from cnnlab import history


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
