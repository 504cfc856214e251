"""Both labs' records as JSON lines in `<workdir>/metrics.jsonl` (and per-step ones on request).

One record per evaluation (cnnlab: per epoch), one schema in both labs:
  step              optimizer steps done
  epoch             epochs of training done, step / steps_per_epoch (a float)
  examples_per_sec  training examples (images, problems) per second since the last record
                    (cnnlab: of the training steps alone; seq2seq: wall time between evaluations)
  elapsed_seconds   wall seconds since the run began, across resumes
  lr                the learning rate after the record's step
  train_*, val_*, test_*  loss, accuracy and each lab's own (seq2seq's char_accuracy)
readable during and after the run with `read(workdir)`, which also reads
records written before this schema. On resume, records past the restored
step are dropped so the file matches the checkpoint; the same holds for
`<workdir>/steps.jsonl` (`read_steps`), one line per step.
"""
import json
import os
from typing import Any, Dict, List

FILENAME = 'metrics.jsonl'
# Keys of records written before the one schema -> today's.
RENAMED = {'images_per_sec': 'examples_per_sec'}


def epochs_done(step: int, steps_per_epoch: int) -> float:
  """A record's `epoch`: training done in epochs (3.0 at the end of the third)."""
  return round(step / steps_per_epoch, 4)


def upgraded(record: Dict[str, Any]) -> Dict[str, Any]:
  """`record` under today's key names, its epoch a float (cnnlab wrote ints)."""
  record = {RENAMED.get(k, k): v for k, v in record.items()}
  if isinstance(record.get('epoch'), int):
    record['epoch'] = float(record['epoch'])
  return record


def path(workdir: str) -> str:
  return os.path.join(workdir, FILENAME)


def read(workdir: str) -> List[Dict[str, Any]]:
  return [upgraded(r) for r in _read_lines(path(workdir))]


def append(workdir: str, record: Dict[str, Any]) -> None:
  _append_lines(path(workdir), [record])


def _read_lines(file: str) -> List[Dict[str, Any]]:
  if not os.path.exists(file):
    return []
  with open(file) as f:
    return [json.loads(line) for line in f if line.strip()]


def _append_lines(file: str, records: List[Dict[str, Any]]) -> None:
  with open(file, 'a') as f:
    f.writelines(json.dumps(r) + '\n' for r in records)
    f.flush()
    os.fsync(f.fileno())


def _truncate(file: str, step: int, rewrite: bool) -> List[Dict[str, Any]]:
  kept = [upgraded(r) for r in _read_lines(file) if r['step'] <= step]
  if rewrite and os.path.exists(file):
    tmp = file + '.tmp'
    with open(tmp, 'w') as f:
      f.writelines(json.dumps(r) + '\n' for r in kept)
    os.replace(tmp, file)
  return kept


def truncate_after(workdir: str, step: int, rewrite: bool = True) -> List[Dict[str, Any]]:
  """Keeps the records with record['step'] <= step; returns them (under today's keys).

  rewrite=False only returns them: in a multi-process run every process needs
  the records, but only process 0 may rewrite the file.
  """
  return _truncate(path(workdir), step, rewrite)


# ---- per-step records (config.log_step_records) --------------------------------------
# One line per optimizer step: step (steps done, as in metrics.jsonl), the lr
# that step used, its batch's loss and accuracy; seed 000's per-batch plots.
STEPS_FILENAME = 'steps.jsonl'


def steps_path(workdir: str) -> str:
  return os.path.join(workdir, STEPS_FILENAME)


def read_steps(workdir: str) -> List[Dict[str, Any]]:
  """The per-step records ([] when the run kept none)."""
  return _read_lines(steps_path(workdir))


def append_steps(workdir: str, records: List[Dict[str, Any]]) -> None:
  """Appends per-step records, synced to disk before the checkpoint that follows."""
  if records:
    _append_lines(steps_path(workdir), records)


def truncate_steps_after(workdir: str, step: int, rewrite: bool = True) -> List[Dict[str, Any]]:
  """As truncate_after for steps.jsonl: a resumed run repeats the steps after `step`."""
  return _truncate(steps_path(workdir), step, rewrite)


# ---- the epoch in progress ---------------------------------------------------------
# A checkpoint saved mid-epoch holds the weights but not the epoch's per-step
# metrics so far; without them a resumed epoch's train_loss would average only
# the steps run after the resume. Each save records them here, keyed by step.
PARTIAL_FILENAME = 'epoch_progress.json'


def save_partial(workdir: str, step: int, metrics: List[Dict[str, float]], keep: int = 4
                 ) -> None:
  """Records the current epoch's per-step metrics at checkpoint `step` (atomic)."""
  file = os.path.join(workdir, PARTIAL_FILENAME)
  entries = {}
  if os.path.exists(file):
    with open(file) as f:
      entries = json.load(f)
  entries[str(step)] = metrics
  for old in sorted(entries, key=int)[:-keep]:
    del entries[old]
  with open(file + '.tmp', 'w') as f:
    json.dump(entries, f)
  os.replace(file + '.tmp', file)


def load_partial(workdir: str, step: int) -> List[Dict[str, float]]:
  """The per-step metrics of the epoch in progress at checkpoint `step` ([] if unknown)."""
  file = os.path.join(workdir, PARTIAL_FILENAME)
  if not os.path.exists(file):
    return []
  with open(file) as f:
    return json.load(f).get(str(step), [])
