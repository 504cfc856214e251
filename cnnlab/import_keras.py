r"""Imports a trained Keras model into a cnnlab workdir.

  python -m cnnlab.import_keras --model=my_model.h5 --workdir=runs/imported      # or .keras
  python -m cnnlab.import_keras --model=m.keras --workdir=runs/m --class_names=cat,dog,frog
  python -m cnnlab.evaluate --workdir=runs/imported --data_dir=path/to/folder
  python -m cnnlab.predict --workdir=runs/imported --input=test_images/ --output=sub.csv
  python -m cnnlab.main --config=configs/keras.py:runs/imported --workdir=runs/ft \
      --config.data.dir=my_folder                                   # fine-tune it

Reads a Keras 2 or 3 Sequential or functional model (cnnlab.keras_import,
no TensorFlow), builds model 'keras' from its layer list (stored in the
workdir's config, config.model.keras_layers), copies its weights and writes
what cnnlab.train would have: meta.json and an orbax checkpoint at step 0 in
both checkpoints/ and best/, so evaluate, predict, the reports and init_from
take it like a trained run. The model's predictions are Keras' (the softmax
of the same logits).

Pixels: cnnlab's pipeline gives the model x / 255, which is what the seed
notebooks fed their Keras models (--preprocess=unit, the default). A model
trained on 0..255 (or one starting with its own Rescaling(1/255)) takes
--preprocess=raw; [-1, 1] is 'tf'; ImageNet conventions 'caffe', 'torch'.

An unsupported layer exits with status 2, naming it and listing the
supported ones.
"""
import json
import os
from typing import Any, Dict, Optional, Sequence

from absl import flags
import jax
import jax.numpy as jnp

from cnnlab import augment
from cnnlab import keras_import
from cnnlab import keras_net
from cnnlab import lookahead
from cnnlab import steps
from cnnlab.core import checkpoints
from cnnlab.core import cli
from cnnlab.core import parallel
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError
from cnnlab.optimizers import path_name

FLAGS = flags.FLAGS
# The base config of this checkout: the imported run is recorded with every field.
BASE_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'configs', 'base.py')
# config.data.dir of an import without --data_dir: `evaluate --workdir` alone
# then says it has no data of its own instead of reading the current directory.
NO_DATA = '(none: imported from a Keras file; evaluate with --data_dir)'


def define_flags():
  """The command's flags, defined only when it runs as a command."""
  flags.DEFINE_string('model', None, 'A Keras model file: .h5 (model.save) or .keras.',
                      required=True)
  cli.define_workdir('The new workdir to write.')
  flags.DEFINE_list('class_names', [], 'Class names in the order of the model\'s outputs; '
                    'default 0..K-1. Evaluation matches data classes (folder names) to them.')
  flags.DEFINE_string('preprocess', 'unit', 'How the model\'s input pixels are scaled: unit '
                      '(x/255, as the seeds trained), raw (0..255), tf ([-1, 1]), caffe, torch.')
  flags.DEFINE_string('image_shape', '', 'H,W,C of the input when the model leaves it open '
                      '(an input shape with None).')
  flags.DEFINE_string('data_dir', '', 'The data the model belongs to (config.data.dir): '
                      'evaluate without --data_dir and fine-tuning use it.')
  cli.define_config(BASE_CONFIG, 'Config the run is recorded with (model.* are set from the '
                    'file).')


def _image_shape(file_shape: Sequence[Optional[int]], given: str):
  if given:
    try:
      shape = tuple(int(v) for v in given.split(','))
      assert len(shape) == 3
    except (ValueError, AssertionError):
      raise UserError(f'--image_shape={given!r}: give H,W,C, e.g. 32,32,3') from None
    if any(f is not None and f != s for f, s in zip(file_shape, shape)):
      raise UserError(f'--image_shape={given} contradicts the model\'s input {tuple(file_shape)}')
    return shape
  if None in tuple(file_shape):
    raise UserError(f'the model\'s input shape is {tuple(file_shape)}: pass --image_shape=H,W,C')
  return tuple(int(v) for v in file_shape)


def _load_variables(template: Dict[str, Any], loaded: Dict[str, Any], collection: str):
  """`template`'s leaves replaced by `loaded`'s: every one, with the same shape."""

  def take(path, leaf):
    name = path_name(path)
    layer, key = name.rsplit('/', 1)
    value = loaded.get(layer, {}).get(key)
    if value is None or value.shape != leaf.shape:
      raise UserError(f'{collection}/{name}: the file has '
                      f'{None if value is None else value.shape}, the model needs {leaf.shape}')
    return jnp.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(take, template)


def import_model(model_path: str, workdir: str, config, class_names: Sequence[str] = (),
                 preprocess: str = 'unit', image_shape: str = '',
                 data_dir: str = '') -> Dict[str, Any]:
  """Writes `workdir` from the Keras file `model_path`; returns its meta."""
  workdir = os.path.abspath(workdir)
  data_dir = os.path.abspath(data_dir) if data_dir else ''
  if os.path.exists(os.path.join(workdir, workdir_lib.META_FILE)) or os.path.isdir(
      os.path.join(workdir, checkpoints.LATEST_DIR)):
    raise UserError(f'{workdir!r} already holds a run: import into a new --workdir')
  keras_net.preprocess(jnp.zeros((1, 1, 1, 3)), preprocess)  # an unknown mode fails now
  keras_model = keras_import.read_model(model_path)
  shape = _image_shape(keras_model.input_shape, image_shape)

  config = config.copy_and_resolve_references()
  config.model.name = 'keras'
  config.model.keras_layers = json.dumps(keras_model.layers, separators=(',', ':'))
  config.model.preprocess = preprocess
  config.data.channels = shape[2]
  config.data.dir = data_dir or NO_DATA
  config.augment = ''  # the model sees x / 255 (and its preprocess), nothing else

  # The class count is the file's: the output's width.
  as_filed = keras_net.KerasNet(config.model.keras_layers, None, preprocess)
  out = jax.eval_shape(lambda: as_filed.init_with_output(
      jax.random.key(0), jnp.zeros((1,) + shape), train=False)[0])
  if len(out.shape) != 2:
    raise UserError(f'the model outputs shape {out.shape[1:]}: cnnlab needs one score per class '
                    '(a Flatten or global pooling before the last layer)')
  num_classes = int(out.shape[1])
  head = keras_net.output_head(keras_model.layers)
  final = keras_model.layers[-1]
  if final.get('activation', 'linear') not in ('softmax', 'linear'):
    raise UserError(f"the model ends in {final['activation']!r}: cnnlab's classifiers end in a "
                    'softmax over the classes (or give logits)')
  if num_classes < 2:
    raise UserError('the model has one output: cnnlab needs a softmax over >= 2 classes')
  class_names = [str(c) for c in class_names] or [str(i) for i in range(num_classes)]
  if len(class_names) != num_classes:
    raise UserError(f'--class_names has {len(class_names)} names; the model has {num_classes} '
                    'outputs')

  pipeline = augment.create_pipeline(config.augment)
  _, state = steps.state_for(config, num_classes, shape, 1, 1, jax.random.key(config.seed),
                             pipeline.init_stats(shape))
  loaded = keras_import.flax_variables(keras_model.weights)
  params = _load_variables(state.params, loaded['params'], 'params')
  batch_stats = _load_variables(state.batch_stats, loaded['batch_stats'], 'batch_stats')
  state = state.replace(params=params, batch_stats=batch_stats, opt_state=state.tx.init(params))
  state = steps.with_lookahead(state, lookahead.settings(config, 1, 1))  # of the file's weights

  meta = {'lab': 'cnnlab', 'model': 'keras', 'image_shape': list(shape), 'num_classes': num_classes,
          'class_names': class_names, 'label_values': class_names, 'augment': config.augment,
          'data': {'name': config.data.name, 'dir': data_dir, 'num_train': 0, 'num_val': 0,
                   'num_skipped': 0},
          'skipped_files': [], 'steps_per_epoch': 1, 'num_train_steps': 1,
          'config': config.to_dict(),
          'keras': {'file': keras_model.path, 'format': keras_model.format,
                    'keras_version': keras_model.keras_version, 'name': keras_model.name,
                    'layers': len(keras_model.layers), 'head': head,
                    'params': int(sum(x.size for x in jax.tree_util.tree_leaves(params))),
                    'batch_stats': int(sum(x.size for x in jax.tree_util.tree_leaves(
                        batch_stats)))}}
  os.makedirs(workdir, exist_ok=True)
  mesh = parallel.create_mesh()
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    state = parallel.replicate(state, mesh)
    ckpts.save(0, state)
    ckpts.save_best(0, state)
  finally:
    ckpts.close()
  workdir_lib.write_meta(workdir, meta)
  return meta


def main(argv):

  def run():
    meta = import_model(FLAGS.model, FLAGS.workdir, FLAGS.config, FLAGS.class_names,
                        FLAGS.preprocess, FLAGS.image_shape, FLAGS.data_dir)
    info = meta['keras']
    print(f'imported {info["file"]} ({info["format"]}, Keras {info["keras_version"]}): '
          f'{info["layers"]} layers, {info["params"]:,} params + {info["batch_stats"]:,} '
          f'BatchNorm statistics, input {tuple(meta["image_shape"])} as '
          f'{meta["config"]["model"]["preprocess"]}, {meta["num_classes"]} classes '
          f'({", ".join(meta["class_names"])}) -> {os.path.abspath(FLAGS.workdir)}\n'
          f'evaluate: python -m cnnlab.evaluate --workdir={FLAGS.workdir} --data_dir=<folder>')

  cli.run_main(run, argv)


if __name__ == '__main__':
  cli.run_command(main, define_flags)
