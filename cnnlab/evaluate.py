r"""Evaluates a trained run on an image folder, an arrays file, a tfds split or its val split.

  python -m cnnlab.evaluate --workdir=runs/vgg                       # its validation split
  python -m cnnlab.evaluate --workdir=runs/fm --split=test           # its test part, again
  python -m cnnlab.evaluate --workdir=runs/vgg --data_dir=path/to/folder
  python -m cnnlab.evaluate --workdir=runs/vgg --data_dir=test.npz
  python -m cnnlab.evaluate --workdir=runs/mnist --data_name=mnist --split=test
  python -m cnnlab.evaluate --workdir=runs/vgg --tta=flip            # test-time augmentation

Loads the best checkpoint (or --step), checks the data's classes against the
training classes, prints accuracy and loss and writes
<workdir>/eval_<name>.json (accuracy, loss, count, confusion counts),
<workdir>/eval_<name>_predictions.npz (labels, probabilities) and the report
(figures, per-class precision/recall/F1; see cnnlab.report) into
<workdir>/report/ for the val split or <workdir>/report/<name>/ otherwise.
`evaluate_workdir` is the command without its flags (cnnlab.api.evaluate calls it).
"""
import os
from typing import Any, Dict, Optional, Tuple

from absl import flags

from cnnlab import inference
from cnnlab import input_pipeline
from cnnlab import report as report_lib
from cnnlab import steps
from cnnlab.core import cli
from cnnlab.core import parallel
from cnnlab.core.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command's flags; only running it as a command does (a notebook
  or test can import every command module in one process)."""
  cli.define_workdir('Workdir of a training run.')
  flags.DEFINE_string('data_dir', '', 'Image folder or .npz/.npy; empty = the run\'s own data '
                      '(its val split, or --split=test: its test part), or --data_name.')
  flags.DEFINE_string('data_name', '', 'A data.name (image_folder, arrays, fashion_mnist, '
                      'cifar10, ...); default from what --data_dir is (input_pipeline.'
                      'source_for_path, logged).')
  flags.DEFINE_string('split', '', 'Without --data_dir / --data_name: val (default) or test (the '
                      'run\'s test part: its official test split or data.test_fraction\'s '
                      'part, as eval_test.json); with --data_name: its split (default test).')
  cli.define_step()
  flags.DEFINE_integer('image_size', 0, 'Resize images to this size (when they differ).')
  flags.DEFINE_string('name', '', 'Name in eval_<name>.json; default from the data '
                      '(with _tta_<tta> appended under --tta).')
  cli.define_tta()
  flags.DEFINE_bool('report', True, 'Write the figures and per-class tables into '
                    '<workdir>/report/[<name>/].')


def load_eval_data(run, data_dir: str, data_name: str, split: str, image_size: int):
  """(name, dataset) to evaluate on, labels aligned with the run's classes."""
  name, _, dataset = _load_eval_data(run, data_dir, data_name, split, image_size)
  return name, dataset


def _load_eval_data(run, data_dir: str, data_name: str, split: str, image_size: int):
  """(name, data.name read with ('' = the run's own data), dataset) of load_eval_data.

  data_dir without data_name is read by input_pipeline.source_for_path's
  choice (logged), with the run's data.name preferred where it reads the files.
  """
  data_config = run.config.data.copy_and_resolve_references()
  data_config.channels = run.meta['image_shape'][2]
  data_config.image_size = image_size or data_config.image_size
  if not data_dir and not data_name:
    if split not in ('', report_lib.VAL_SPLIT, report_lib.TEST_SPLIT):
      raise UserError(f'--split={split!r}: the run\'s own data has the splits '
                      f'{report_lib.VAL_SPLIT!r} and {report_lib.TEST_SPLIT!r}; for a split of '
                      'another dataset pass --data_name too')
    if split != report_lib.TEST_SPLIT:
      _, val = input_pipeline.load_splits(run.config)
      return report_lib.VAL_SPLIT, '', val
    test = input_pipeline.load_all_splits(run.config).test
    if not len(test.labels):
      raise UserError(f'the run in {run.workdir!r} has no test part: its data '
                      f'({run.config.data.name}) has no official test split and '
                      'data.test_fraction was 0; pass --data_dir or --data_name for other data')
    return report_lib.TEST_SPLIT, '', test
  split = split or 'test'
  if data_dir:
    data_name = input_pipeline.choose_source(data_dir, data_name, run.config.data.name)
  data_config.name = data_name
  data_config.dir = data_dir
  dataset = input_pipeline.load_dataset(data_config, split)
  name = (os.path.splitext(os.path.basename(os.path.normpath(data_dir)))[0]
          if data_dir else f'{data_name}_{split}')
  source = f'--data_dir={data_dir!r}' if data_dir else f'--data_name={data_name} --split={split}'
  return name, data_name, inference.align_labels(run, dataset, source)


def evaluate_workdir(workdir: str, data_dir: str = '', data_name: str = '', split: str = '',
                     step: Optional[int] = None, image_size: int = 0, name: str = '',
                     tta: str = '', report: bool = True) -> Tuple[Dict[str, Any], Dict[str, str]]:
  """What the command does: evaluates a run's checkpoint and saves the evaluation.

  Args (the command's flags): workdir of the run; data_dir (image folder or
  .npz/.npy; '' = the run's own val split, or with split='test' its test
  part; or data_name with split);
  data_name; split; step (default the best checkpoint); image_size; name
  (default from the data, with _tta_<tta> appended under tta); tta; report
  (also write the figures and per-class tables).

  Returns:
    (record, written): the record saved as <workdir>/eval_<name>.json (accuracy,
    loss, count, confusion, name, step, class_names, data_dir, ...), and
    {what: path} of the files written ('eval.json', the report's files); on
    processes other than the first nothing is written and `written` is empty.
  """
  run = inference.load_run(workdir, step)
  eval_fn = steps.make_eval_fn(run.pipeline, tta)  # fails fast on an unknown tta
  data_name_given = data_name
  name_from_data, data_name, dataset = _load_eval_data(run, data_dir, data_name, split,
                                                       image_size)
  name = name or (f'{name_from_data}_tta_{tta}' if tta else name_from_data)
  result = steps.evaluate(run.state, dataset, run.mesh, eval_fn, run.config.eval_batch_size,
                          with_probabilities=True)
  probabilities = result.pop('probabilities')
  # label_values: the original label of each confusion row / column (an
  # arrays file's 1..5), as class_names are the folder names. split and
  # image_size say which data to load again (cnnlab.api.figures); data_name
  # is the source read ('' = the run's own val split or test part).
  info = dict(data_dir=data_dir, data_name=data_name, tta=tta,
              label_values=run.meta['label_values'])
  if not data_dir:
    info['split'] = (split or 'test') if data_name_given else name_from_data
  if image_size:
    info['image_size'] = image_size
  record = report_lib.evaluation_record(name, result, step=run.step,
                                        class_names=run.class_names, **info)
  if not parallel.is_main_process():
    return record, {}
  if report:
    written = report_lib.report_evaluation(run.workdir, name, result, dataset, probabilities,
                                           run.step, run.meta, **info)
  else:
    written = {'eval.json': report_lib.write_evaluation(
        run.workdir, name, result, dataset.labels, probabilities, dataset.ids, step=run.step,
        class_names=run.class_names, **info)}
  return record, written


def main(argv):

  def run_eval():
    record, written = evaluate_workdir(
        FLAGS.workdir, FLAGS.data_dir, FLAGS.data_name, FLAGS.split, FLAGS.step,
        FLAGS.image_size, FLAGS.name, FLAGS.tta, FLAGS.report)
    if not parallel.is_main_process():
      return
    where = (f', report in {report_lib.report_dir(os.path.abspath(FLAGS.workdir), record["name"])}'
             if FLAGS.report else '')
    print(f'{record["name"]}: accuracy {record["accuracy"]:.4f}  loss {record["loss"]:.4f}  '
          f'({record["count"]} images, step {record["step"]}) -> {written["eval.json"]}{where}')

  cli.run_main(run_eval, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
