r"""Fine-tune a model imported by cnnlab.import_keras: its layers and weights, new data.

  python -m cnnlab.import_keras --model=my_model.h5 --workdir=runs/imported
  python -m cnnlab.main --config=configs/keras.py:runs/imported --workdir=runs/ft \
      --config.data.dir=my_folder --config.freeze='^conv2d'

The argument after the colon is the imported workdir: the model (model
'keras', its layer list and input convention) and the data channels come
from its meta.json, and its weights through init_from (matched by layer
name; an output layer of another class count starts afresh, as Keras' new
head would). Everything else is configs/base.py's; override as usual.
"""
import json
import os

from configs import base


def get_config(workdir: str = ''):
  if not workdir:
    raise ValueError('give the imported workdir: --config=configs/keras.py:<workdir>')
  with open(os.path.join(workdir, 'meta.json')) as f:
    meta = json.load(f)
  imported = meta['config']
  config = base.get_config()
  for field in ('name', 'keras_layers', 'preprocess', 'frozen_batchnorm'):
    config.model[field] = imported['model'][field]
  config.data.channels = imported['data']['channels']
  config.data.dir = meta['data']['dir'] or config.data.dir  # --data_dir of the import, if given
  config.init_from = os.path.abspath(workdir)
  return config
