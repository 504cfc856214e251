r"""Predicts the classes of unlabelled images with a trained run: a Kaggle-style CSV.

  python -m cnnlab.predict --workdir=runs/x --input=test_images/ --output=submission.csv
  python -m cnnlab.predict --workdir=runs/x --input=test.npz --output=submission.csv
  python -m cnnlab.predict --workdir=runs/x --input=test.npz --probabilities --tta=flip

--input is one of
  * a folder of images (.jpg/.jpeg/.png, searched recursively): the id of an
    image is its file name without the extension (`123.png` -> 123, `0042.png`
    -> '0042'), or its path relative to the folder where names repeat in
    sub-folders;
  * a .npz / .npy arrays file: images under one of input_pipeline.IMAGE_KEYS,
    ids from its `id` (or `ids`) array, else the row numbers 0..N-1;
  * an official dataset's files (an idx folder, CIFAR's batches): its test
    split, ids the row numbers.
--data_name names the source that reads it; without, input_pipeline's rule
(source_for_path) decides from what --input is, and the command logs the
decision ("Reading test.npz as data.name=arrays (from its .npz extension; pass
--data_name to choose)").

The CSV has a header and one row per image: `id,label`, where label is the
ORIGINAL label the model was trained on (an arrays file's 1..5, a folder's
class name), not the internal index 0..K-1. --probabilities adds one column
per class (named by its label) with the predicted probability. Rows follow
the input order: arrays order, or the folder's ids sorted (numerically where
they are all numbers).

Images are read by input_pipeline's sources (labelled=False), decoded and
resized exactly as in training, then go through the run's deterministic eval
transform (cnnlab.augment) on the accelerator; --tta averages the
probabilities over views (cnnlab.tta).
`predict_workdir` is the command without its flags (cnnlab.api.predict calls it).
"""
import csv
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from absl import flags
import numpy as np

from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab import steps
from cnnlab import tta as tta_lib
from cnnlab.core import cli
from cnnlab.core import parallel
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_workdir('Workdir of a training run.')
  flags.DEFINE_string('input', None, 'Folder of images, .npz/.npy arrays file, or an official '
                      "dataset's files (idx, CIFAR).", required=True)
  flags.DEFINE_string('data_name', '', 'The source that reads --input (image_folder, arrays, '
                      'fashion_mnist, ...: its test split); default from what --input is.')
  flags.DEFINE_string('output', 'submission.csv', 'CSV to write: id,label[,probabilities].')
  flags.DEFINE_string('label_column', 'label', "Header of the predicted-label column (seed 003's "
                      "Kaggle submission: target).")
  flags.DEFINE_bool('probabilities', False, 'Add a probability column per class.')
  cli.define_tta('Test-time augmentation: identity | flip | airbench; empty = none.')
  cli.define_step()
  flags.DEFINE_integer('batch_size', 0, 'Images per batch; default the run\'s eval_batch_size.')


def _plain(value: Any) -> Any:
  """An id as the CSV and the rows hold it: a Python int or str, not a numpy scalar or bytes."""
  if isinstance(value, bytes):
    return value.decode()
  return value.item() if isinstance(value, np.generic) else value


def load_inputs(path: str, image_shape: Sequence[int], data_config, data_name: str = ''
                ) -> Tuple[np.ndarray, List[Any]]:
  """Images (uint8 NHWC, the model's shape) and ids of `path`, read unlabelled by its source.

  The source is data_name, else input_pipeline.source_for_path's choice
  (logged); images decode as in training, resized to a square model's size,
  at its channel count; an official dataset gives its test split.
  """
  height, width, channels = image_shape
  data_config = data_config.copy_and_resolve_references()
  data_config.name = input_pipeline.choose_source(path, data_name, data_config.name)
  data_config.dir = path
  data_config.channels = channels
  data_config.image_size = height if height == width else 0
  data_config.skip_corrupt = False  # a prediction for every image, or an error naming it
  dataset = input_pipeline.load_dataset(data_config, 'test', labelled=False)
  if dataset.image_shape != tuple(image_shape):
    raise UserError(f'{path!r}: images are {dataset.image_shape} but the model takes '
                    f'{tuple(image_shape)}')
  return dataset.images, [_plain(v) for v in dataset.ids]


def predict_probabilities(run, images: np.ndarray, tta: str = '',
                          batch_size: Optional[int] = None) -> np.ndarray:
  """[N, K] probabilities of `run`'s model for uint8 images, averaged over TTA views."""
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
                    with_probabilities: bool = False, label_column: str = 'label',
                    data_name: str = '') -> Dict[str, Any]:
  """What the command does: predicts `input_path`'s images with a run and writes the CSV.

  Args (the command's flags): workdir of the run; input_path (a folder of
  images or a .npz/.npy file); output (the CSV to write; '' = none); tta;
  step (default the best checkpoint); batch_size (default the run's
  eval_batch_size); with_probabilities (a probability column per class in the
  CSV and the rows); label_column (the header of the predicted label);
  data_name (the source that reads input_path; '' = input_pipeline's rule).

  Returns:
    {'ids': [...], 'labels': the predicted original label per image (label_values[k]),
     'probabilities': float [N, K], 'label_values', 'class_names', 'step', 'tta',
     'output': the CSV's path or None, 'rows': the CSV's rows as dicts keyed by its
     header (id, label as the CSV writes it, and a float per class with
     with_probabilities; the CSV rounds those to 6 decimals)}.
    The CSV is written only on the first process.
  """
  run = inference.load_run(workdir, step)
  if tta:
    tta_lib.get(tta)  # an unknown tta fails before decoding
  images, ids = load_inputs(input_path, run.meta['image_shape'], run.config.data, data_name)
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
  def run_predict():
    result = predict_workdir(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.tta, FLAGS.step,
                             FLAGS.batch_size or None, FLAGS.probabilities, FLAGS.label_column,
                             FLAGS.data_name)
    if not parallel.is_main_process():
      return
    label_values = result['label_values']
    counts = np.bincount(result['probabilities'].argmax(-1), minlength=len(label_values))
    spread = ', '.join(f'{v}: {c}' for v, c in zip(label_values, counts))
    print(f'{len(result["rows"])} predictions (step {result["step"]}'
          f'{", TTA " + FLAGS.tta if FLAGS.tta else ""}) -> {FLAGS.output}\n  per label: {spread}')

  cli.run_main(run_predict, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
