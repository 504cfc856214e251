r"""Predicts the classes of unlabelled images with a trained run: a Kaggle-style CSV.

  python -m cnnlab.predict --workdir=runs/x --input=test_images/ --output=submission.csv
  python -m cnnlab.predict --workdir=runs/x --input=test.npz --output=submission.csv
  python -m cnnlab.predict --workdir=runs/x --input=test.npz --probabilities --tta=flip

--input is either
  * a folder of images (.jpg/.jpeg/.png, searched recursively): the id of an
    image is its file name without the extension (`123.png` -> 123), or its
    path relative to the folder where names repeat in sub-folders; or
  * a .npz / .npy arrays file: images under one of input_pipeline.IMAGE_KEYS,
    ids from its `id` (or `ids`) array, else the row numbers 0..N-1.

The CSV has a header and one row per image: `id,label`, where label is the
ORIGINAL label the model was trained on (an arrays file's 1..5, a folder's
class name), not the internal index 0..K-1. --probabilities adds one column
per class (named by its label) with the predicted probability. Rows follow
the input order: arrays order, or the folder's ids sorted (numerically where
they are all numbers).

Images are decoded and resized exactly as in training (input_pipeline), then
go through the run's deterministic eval transform (cnnlab.augment) on the
accelerator; --tta averages the probabilities over views (cnnlab.tta).
`predict_workdir` is the command without its flags (cnnlab.api.predict calls it).
"""
import concurrent.futures
import csv
import logging
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
import numpy as np

from cnnlab.core import cli
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  flags.DEFINE_string('workdir', None, 'Workdir of a training run.', required=True)
  flags.DEFINE_string('input', None, 'Folder of images, or a .npz/.npy arrays file.',
                      required=True)
  flags.DEFINE_string('output', 'submission.csv', 'CSV to write: id,label[,probabilities].')
  flags.DEFINE_string('label_column', 'label', "Header of the predicted-label column (seed 003's "
                      "Kaggle submission: target).")
  flags.DEFINE_bool('probabilities', False, 'Add a probability column per class.')
  flags.DEFINE_string('tta', '', 'Test-time augmentation: identity | flip | airbench; empty = none.')
  flags.DEFINE_integer('step', None, 'Checkpoint step; default the best one.')
  flags.DEFINE_integer('batch_size', 0, 'Images per batch; default the run\'s eval_batch_size.')


def _natural_key(text: str):
  return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', text)]


def _id_value(text: str):
  """'0042' stays a string (leading zeros matter to ids); '42' becomes 42."""
  return int(text) if re.fullmatch(r'-?[1-9]\d*|0', text) else text


def list_images(root: str) -> Tuple[List[str], List[Any]]:
  """(paths, ids) of the images under `root`, sorted by id."""
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  paths = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    paths += [os.path.join(folder, f) for f in files
              if f.lower().endswith(input_pipeline.IMAGE_EXTENSIONS) and not f.startswith('.')]
  if not paths:
    raise UserError(f'{root!r} holds no {"/".join(input_pipeline.IMAGE_EXTENSIONS)} images')
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  if len(set(stems)) == len(stems):
    names = stems
  else:  # the same file name in two sub-folders (or a.jpg and a.png): keep them apart
    names = [os.path.relpath(p, root).replace(os.sep, '/') for p in paths]
  order = sorted(range(len(paths)), key=lambda i: _natural_key(names[i]))
  return [paths[i] for i in order], [_id_value(names[i]) for i in order]


def load_folder(root: str, image_shape: Sequence[int]) -> Tuple[np.ndarray, List[Any]]:
  """Decodes every image under `root` to the model's input shape (uint8 NHWC)."""
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  paths, ids = list_images(root)
  height, width, channels = image_shape
  size = height if height == width else 0
  with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
    # The decoder training used: same mode conversion and bilinear resize.
    decoded = list(pool.map(lambda p: input_pipeline._decode(p, size), paths))  # pylint: disable=protected-access
  images = []
  for path, (array, error) in zip(paths, decoded):
    if error:
      raise UserError(f'cannot decode image {path!r} ({error}): delete or replace it')
    if array.shape[:2] != (height, width):
      raise UserError(f'{path!r} is {array.shape[1]}x{array.shape[0]} but the model takes '
                      f'{width}x{height} images')
    images.append(input_pipeline.to_channels(array[None], channels)[0])
  return np.stack(images), ids


def load_arrays(path: str, image_shape: Sequence[int], data_config
                ) -> Tuple[np.ndarray, List[Any]]:
  """Images (uint8 NHWC) and ids of a .npz / .npy file."""
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  if path.endswith('.npy') and os.path.exists(path):
    obj = np.load(path, allow_pickle=True)
    store = obj.item() if obj.dtype == object and obj.shape == () else {'images': obj}
  else:
    store = input_pipeline.read_arrays_file(path)
  if not isinstance(store, dict):
    raise UserError(f'{path!r} holds neither an images array nor a dict of arrays')
  key = next((k for k in input_pipeline.IMAGE_KEYS if k in store), None)
  if key is None:
    raise UserError(f'{path!r} has no images array: name it one of '
                    f'{", ".join(input_pipeline.IMAGE_KEYS)} (found: {", ".join(map(str, store))})')
  data_config = data_config.copy_and_resolve_references()
  data_config.channels = image_shape[2]
  data_config.image_size = image_shape[0]
  images = input_pipeline.images_to_uint8(store[key], data_config, path)
  if images.shape[1:] != tuple(image_shape):
    raise UserError(f'{path!r}: images are {images.shape[1:]} but the model takes '
                    f'{tuple(image_shape)}')
  id_key = next((k for k in ('id', 'ids', 'Id', 'ID') if k in store), None)
  if id_key is None:
    logging.info('%s has no "id" array: the ids are the row numbers 0..%d', path,
                 len(images) - 1)
    ids = list(range(len(images)))
  else:
    ids = [v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, 'item') else v)
           for v in np.asarray(store[id_key]).reshape(-1)]
    if len(ids) != len(images):
      raise UserError(f'{path!r}: {len(images)} images but {len(ids)} ids')
  if any(k in store for k in input_pipeline.LABEL_KEYS):
    logging.info('%s also holds labels; predict ignores them (python -m cnnlab.evaluate '
                 '--data_dir=%s scores them)', path, path)
  return images, ids


def load_inputs(path: str, image_shape: Sequence[int], data_config
                ) -> Tuple[np.ndarray, List[Any]]:
  if os.path.isdir(path):
    return load_folder(path, image_shape)
  if path.endswith(('.npz', '.npy')):
    return load_arrays(path, image_shape, data_config)
  raise UserError(f'--input={path!r} is neither a folder of images nor a .npz/.npy file')


def predict_probabilities(run, images: np.ndarray, tta: str = '',
                          batch_size: Optional[int] = None) -> np.ndarray:
  """[N, K] probabilities of `run`'s model for uint8 images, averaged over TTA views."""
  from cnnlab import input_pipeline, steps  # pylint: disable=g-import-not-at-top
  eval_fn = steps.make_eval_fn(run.pipeline, tta)
  # Unlabelled: the labels only feed the (unused) loss and accuracy.
  dataset = input_pipeline.Dataset(images, np.zeros(len(images), np.int32), run.class_names,
                                   run.meta['label_values'])
  result = steps.evaluate(run.state, dataset, run.mesh, eval_fn,
                          batch_size or run.config.eval_batch_size, with_probabilities=True)
  return result['probabilities']


def label_text(value: Any) -> str:
  """A label as a submission expects it: 3.0 (an arrays file's float labels) as 3."""
  if isinstance(value, (float, np.floating)) and float(value).is_integer():
    return str(int(value))
  return str(value)


def write_csv(path: str, ids: Sequence[Any], label_values: Sequence[Any],
              probabilities: np.ndarray, with_probabilities: bool = False,
              label_column: str = 'label') -> int:
  """Writes id,<label_column>[,p per class]; labels are label_values[argmax]. Returns the rows."""
  predicted = np.asarray(probabilities).argmax(-1)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'w', newline='') as f:
    writer = csv.writer(f, lineterminator='\n')
    writer.writerow(['id', label_column] + ([label_text(v) for v in label_values]
                                            if with_probabilities else []))
    for i, (id_, k) in enumerate(zip(ids, predicted)):
      row = [id_, label_text(label_values[k])]
      if with_probabilities:
        row += [f'{p:.6f}' for p in probabilities[i]]
      writer.writerow(row)
  os.replace(tmp, path)
  return len(predicted)


def predict_workdir(workdir: str, input_path: str, output: str = '', tta: str = '',
                    step: Optional[int] = None, batch_size: Optional[int] = None,
                    with_probabilities: bool = False, label_column: str = 'label'
                    ) -> Dict[str, Any]:
  """What the command does: predicts `input_path`'s images with a run and writes the CSV.

  Args (the command's flags): workdir of the run; input_path (a folder of
  images or a .npz/.npy file); output (the CSV to write; '' = none); tta;
  step (default the best checkpoint); batch_size (default the run's
  eval_batch_size); with_probabilities (a probability column per class in the
  CSV and the rows); label_column (the header of the predicted label).

  Returns:
    {'ids': [...], 'labels': the predicted original label per image (label_values[k]),
     'probabilities': float [N, K], 'label_values', 'class_names', 'step', 'tta',
     'output': the CSV's path or None, 'rows': the CSV's rows as dicts keyed by its
     header (id, label as the CSV writes it, and a float per class with
     with_probabilities; the CSV rounds those to 6 decimals)}.
    The CSV is written only on the first process.
  """
  from cnnlab import inference, tta as tta_lib  # pylint: disable=g-import-not-at-top
  from cnnlab.core import parallel  # pylint: disable=g-import-not-at-top
  run = inference.load_run(workdir, step)
  if tta:
    tta_lib.get(tta)  # an unknown tta fails before decoding
  images, ids = load_inputs(input_path, run.meta['image_shape'], run.config.data)
  probabilities = predict_probabilities(run, images, tta, batch_size or None)
  label_values = run.meta['label_values']
  predicted = probabilities.argmax(-1)
  if output and parallel.is_main_process():
    write_csv(output, ids, label_values, probabilities, with_probabilities, label_column)
  columns = [label_text(v) for v in label_values]
  rows = []
  for i, (id_, k) in enumerate(zip(ids, predicted)):
    row = {'id': id_, label_column: label_text(label_values[k])}
    if with_probabilities:
      row.update(zip(columns, (float(p) for p in probabilities[i])))
    rows.append(row)
  return {'ids': list(ids), 'labels': [label_values[k] for k in predicted],
          'probabilities': probabilities, 'label_values': label_values,
          'class_names': run.class_names, 'step': run.step, 'tta': tta,
          'output': output or None, 'rows': rows}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')

  def run_predict():
    from cnnlab.core import parallel  # pylint: disable=g-import-not-at-top
    result = predict_workdir(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.tta, FLAGS.step,
                             FLAGS.batch_size or None, FLAGS.probabilities, FLAGS.label_column)
    if not parallel.is_main_process():
      return
    label_values = result['label_values']
    counts = np.bincount(result['probabilities'].argmax(-1), minlength=len(label_values))
    spread = ', '.join(f'{v}: {c}' for v, c in zip(label_values, counts))
    print(f'{len(result["rows"])} predictions (step {result["step"]}'
          f'{", TTA " + FLAGS.tta if FLAGS.tta else ""}) -> {FLAGS.output}\n  per label: {spread}')

  cli.run_main(run_predict)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
