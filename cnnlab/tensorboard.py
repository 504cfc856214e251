"""TensorBoard scalars of a run, written with tensorboardX (no TensorFlow import).

Layout, Keras-style so that train and val share one chart per metric:

  <workdir>/tensorboard/train/    epoch_loss, epoch_accuracy, epoch_lr, epoch_images_per_sec
  <workdir>/tensorboard/val/      epoch_loss, epoch_accuracy
  <workdir>/tensorboard/eval_<name>/   accuracy, loss, precision|recall|f1/<class>

The x axis is the epoch, as in curves.png. View with

  tensorboard --logdir runs/          # every run under runs/, side by side

tensorboardX is optional at run time: without it a warning is logged once and
no scalars are written (training never fails for want of a dashboard).
"""
import logging
import os
import struct
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

SUBDIR = 'tensorboard'
# Record keys of metrics.jsonl -> (run, tag).
EPOCH_SCALARS = {
    'train_loss': ('train', 'epoch_loss'),
    'train_accuracy': ('train', 'epoch_accuracy'),
    'lr': ('train', 'epoch_lr'),
    'images_per_sec': ('train', 'epoch_images_per_sec'),
    'val_loss': ('val', 'epoch_loss'),
    'val_accuracy': ('val', 'epoch_accuracy'),
}
_warned = False


def _summary_writer(logdir: str, purge_step: Optional[int] = None):
  global _warned
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  except ImportError:
    if not _warned:
      logging.warning('tensorboardX is not installed: no TensorBoard scalars '
                      '(pip install tensorboardX).')
      _warned = True
    return None
  return SummaryWriter(logdir, purge_step=purge_step, flush_secs=30)


class EpochWriter:
  """Per-epoch scalars of a training run; opens its files lazily on first write.

  Args:
    workdir: the run's workdir.
    records: the metrics.jsonl records kept when the run (re)starts. On
      resume, points an interrupted run left after them are hidden
      (tensorboardX's purge_step), so the charts match metrics.jsonl.
    enabled: False makes every method a no-op (processes other than the main one).
  """

  def __init__(self, workdir: str, records: Sequence[Dict[str, Any]] = (),
               enabled: bool = True):
    self.root = os.path.join(workdir, SUBDIR)
    self.first_epoch = records[-1]['epoch'] + 1 if records else 1
    self.enabled = enabled
    self._writers: Dict[str, Any] = {}

  def _writer(self, run: str):
    if run not in self._writers:
      purge = self.first_epoch if self.first_epoch > 1 else None
      self._writers[run] = _summary_writer(os.path.join(self.root, run), purge)
    return self._writers[run]

  def write(self, record: Dict[str, Any]) -> None:
    """Writes the scalars of one metrics.jsonl record (at step = its epoch)."""
    if not self.enabled:
      return
    for key, (run, tag) in EPOCH_SCALARS.items():
      if record.get(key) is not None:
        writer = self._writer(run)
        if writer is not None:
          writer.add_scalar(tag, float(record[key]), int(record['epoch']))
    self.flush()

  def flush(self) -> None:
    for w in self._writers.values():
      if w is not None:
        w.flush()

  def close(self) -> None:
    for w in self._writers.values():
      if w is not None:
        w.close()
    self._writers = {}


def write_scalars(logdir: str, scalars: Dict[str, float], step: int) -> bool:
  """Writes {tag: value} at `step` into `logdir`; False if tensorboardX is missing."""
  writer = _summary_writer(logdir)
  if writer is None:
    return False
  for tag, value in scalars.items():
    writer.add_scalar(tag, float(value), int(step))
  writer.close()
  return True


# ---- reading back (tests, and anyone without TensorFlow) -------------------------------

def _records(path: str) -> Iterator[bytes]:
  """The payloads of a TFRecord file (length, crc, data, crc), CRCs not checked."""
  with open(path, 'rb') as f:
    while True:
      header = f.read(12)
      if len(header) < 12:
        return
      (length,) = struct.unpack('<Q', header[:8])
      data = f.read(length)
      f.read(4)
      if len(data) < length:
        return
      yield data


def read_scalars(logdir: str) -> Dict[str, List[Tuple[int, float]]]:
  """{tag: [(step, value), ...]} of every events file directly in `logdir`."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  out: Dict[str, List[Tuple[int, float]]] = {}
  for name in sorted(os.listdir(logdir)):
    if 'tfevents' not in name:
      continue
    for data in _records(os.path.join(logdir, name)):
      event = event_pb2.Event.FromString(data)
      for value in event.summary.value:
        if value.HasField('simple_value'):
          out.setdefault(value.tag, []).append((event.step, value.simple_value))
  return out
