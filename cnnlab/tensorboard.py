"""TensorBoard scalars of a run, written with tensorboardX (no TensorFlow import).

Layout, Keras-style so that train and val share one chart per metric:

  <workdir>/tensorboard/train/    epoch_loss, epoch_accuracy, epoch_lr, epoch_images_per_sec
  <workdir>/tensorboard/val/      epoch_loss, epoch_accuracy
  <workdir>/tensorboard/eval_<name>/   accuracy, loss, macro_f1, precision|recall|f1/<class>,
                                       and the dashboard.png image

The x axis is the epoch, as in curves.png. View with

  tensorboard --logdir runs/          # every run under runs/, side by side

tensorboardX is optional at run time: without it a warning is logged once and
no scalars are written (training never fails for want of a dashboard).
"""
import logging
import math
import os
import struct
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

SUBDIR = 'tensorboard'
# Record keys of metrics.jsonl -> (run, tag).
EPOCH_SCALARS = {
    'train_loss': ('train', 'epoch_loss'),
    'train_accuracy': ('train', 'epoch_accuracy'),
    'lr': ('train', 'epoch_lr'),
    'examples_per_sec': ('train', 'epoch_images_per_sec'),
    'val_loss': ('val', 'epoch_loss'),
    'val_accuracy': ('val', 'epoch_accuracy'),
}
_warned = False
_opened = 0


def _summary_writer(logdir: str, purge_step: Optional[int] = None):
  global _warned
  try:
    # Optional (a warning without it), and ~0.4 s: only once something is written.
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  except ImportError:
    if not _warned:
      logging.warning('tensorboardX is not installed: no TensorBoard scalars '
                      '(pip install tensorboardX).')
      _warned = True
    return None
  global _opened
  _opened += 1
  # Event files are named by the second they were opened: a suffix keeps two
  # writers opened within one second (a quick resume, two evaluations) apart.
  return SummaryWriter(logdir, purge_step=purge_step, flush_secs=30,
                       filename_suffix=f'.{os.getpid()}.{_opened:04d}')


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
    # An epoch cut short (num_epochs=9.9) is charted at the epoch it belongs to (10).
    self.first_epoch = math.ceil(records[-1]['epoch']) + 1 if records else 1
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
          writer.add_scalar(tag, float(record[key]), math.ceil(record['epoch']))
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


def write_scalars(logdir: str, scalars: Dict[str, float], step: int,
                  images: Optional[Dict[str, str]] = None) -> bool:
  """Writes {tag: value} (and {tag: PNG path} images) at `step` into `logdir`.

  Returns False if tensorboardX is missing.
  """
  writer = _summary_writer(logdir)
  if writer is None:
    return False
  for tag, value in scalars.items():
    writer.add_scalar(tag, float(value), int(step))
  for tag, path in (images or {}).items():
    with Image.open(path) as img:
      writer.add_image(tag, np.asarray(img.convert('RGB')), int(step), dataformats='HWC')
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
  """{tag: [(step, value), ...]} of the events files directly in `logdir`.

  As TensorBoard shows them: a restart marker (SessionLog START at step s, what
  purge_step writes) hides the points at steps >= s written before it.
  """
  # tensorboardX is optional: importing this module must not need it.
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  out: Dict[str, List[Tuple[int, float]]] = {}
  # Files are named events.out.tfevents.<seconds>...: by name is by creation time.
  for name in sorted(os.listdir(logdir)):
    if 'tfevents' not in name:
      continue
    for data in _records(os.path.join(logdir, name)):
      event = event_pb2.Event.FromString(data)
      if (event.HasField('session_log')
          and event.session_log.status == event_pb2.SessionLog.START):
        out = {tag: [(s, v) for s, v in points if s < event.step]
               for tag, points in out.items()}
      for value in event.summary.value:
        if value.HasField('simple_value'):
          out.setdefault(value.tag, []).append((event.step, value.simple_value))
  return out
