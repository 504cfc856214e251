r"""A Keras-trained model through cnnlab.import_keras: cnnlab.evaluate's accuracy == Keras' evaluate.

  python benchmarks/keras_bridge.py --out=benchmarks/keras_bridge_run --epochs=2

Trains seed 004's VGG (configs/vgg.py's network: Conv32 x2, pool, Conv64 x2,
pool, Conv128 x3, pool, Dense 100, Dense 10) in Keras 3 for --epochs on the
45,000 training images of configs/vgg.py's split of the shared CIFAR-10
folder (loaded by cnnlab.input_pipeline: the same images, pixels x / 255),
with configs/vgg.py's optimizer (Adam 1e-3, epsilon 1e-7, batch 128), saves
it as .h5 and .keras, imports both with `python -m cnnlab.import_keras
--data_dir=<folder>`, runs `python -m cnnlab.evaluate --workdir=<imported>`
(its val split: the same 5,000 images, chosen by the recorded config's seed
and val_fraction) and compares accuracy, loss and every probability with
Keras' evaluate / predict on those 5,000. Writes <out>/keras_bridge.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def keras_vgg(keras, num_classes):
  """Seed 004d's VGG as the seed wrote it in Keras (640,502 params)."""
  layers = keras.layers
  model = keras.Sequential([keras.Input((32, 32, 3))])
  for filters, convs in ((32, 2), (64, 2), (128, 3)):
    for _ in range(convs):
      model.add(layers.Conv2D(filters, 3, padding='same', activation='relu'))
    model.add(layers.MaxPooling2D())
  model.add(layers.Flatten())
  model.add(layers.Dense(100, activation='relu'))
  model.add(layers.Dense(num_classes, activation='softmax'))
  return model


def run(command, log):
  start = time.monotonic()
  result = subprocess.run([sys.executable, '-m'] + command, cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO))
  with open(log, 'w') as f:
    f.write(result.stdout + result.stderr)
  if result.returncode:
    raise SystemExit(f'{" ".join(command)} failed:\n{result.stderr[-3000:]}')
  return result.stdout.strip().splitlines()[-1], time.monotonic() - start


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--out', default='benchmarks/keras_bridge_run')
  parser.add_argument('--data_dir', default=os.path.join(REPO, '..', 'shared', 'datasets',
                                                         'cifar10', 'train'))
  parser.add_argument('--epochs', type=int, default=2)
  args = parser.parse_args()
  out = os.path.abspath(args.out)
  os.makedirs(out, exist_ok=True)
  data_dir = os.path.abspath(args.data_dir)

  from configs import vgg  # pylint: disable=g-import-not-at-top
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  config = vgg.get_config()
  config.data.dir = data_dir
  train_ds, val_ds = input_pipeline.load_splits(config)
  print(f'{len(train_ds.labels)} train / {len(val_ds.labels)} val images', flush=True)

  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(config.seed)
  model = keras_vgg(keras, train_ds.num_classes)
  model.compile(optimizer=keras.optimizers.Adam(config.optimizer.lr,
                                                epsilon=config.optimizer.eps),
                loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  x_train = train_ds.images.astype(np.float32) / 255.0
  x_val = val_ds.images.astype(np.float32) / 255.0
  start = time.monotonic()
  model.fit(x_train, train_ds.labels, batch_size=config.batch_size, epochs=args.epochs,
            shuffle=True, verbose=2)
  train_seconds = time.monotonic() - start
  keras_loss, keras_accuracy = model.evaluate(x_val, val_ds.labels, batch_size=500, verbose=0)
  keras_probabilities = model.predict(x_val, batch_size=500, verbose=0)
  result = {'keras_version': keras.__version__, 'backend': keras.backend.backend(),
            'params': model.count_params(), 'epochs': args.epochs,
            'num_train': len(train_ds.labels), 'num_val': len(val_ds.labels),
            'keras_train_seconds': round(train_seconds, 1),
            'keras_val_accuracy': float(keras_accuracy), 'keras_val_loss': float(keras_loss),
            'keras_val_correct': int(round(keras_accuracy * len(val_ds.labels))),
            'imports': {}}
  for fmt in ('h5', 'keras'):
    path = os.path.join(out, f'vgg_keras.{fmt}')
    model.save(path)
    workdir = os.path.join(out, f'imported_{fmt}')
    if os.path.isdir(workdir):
      raise SystemExit(f'{workdir} exists: use a new --out')
    _, import_seconds = run(['cnnlab.import_keras', f'--model={path}', f'--workdir={workdir}',
                             f'--class_names={",".join(train_ds.class_names)}',
                             f'--data_dir={data_dir}'], os.path.join(out, f'import_{fmt}.log'))
    line, eval_seconds = run(['cnnlab.evaluate', f'--workdir={workdir}'],
                             os.path.join(out, f'evaluate_{fmt}.log'))
    with open(os.path.join(workdir, 'eval_val.json')) as f:
      evaluation = json.load(f)
    probabilities = np.load(os.path.join(workdir, 'eval_val_predictions.npz'))['probabilities']
    result['imports'][fmt] = {
        'evaluate_line': line, 'import_seconds': round(import_seconds, 1),
        'evaluate_seconds': round(eval_seconds, 1),
        'cnnlab_val_accuracy': evaluation['accuracy'], 'cnnlab_val_loss': evaluation['loss'],
        'cnnlab_val_correct': int(round(evaluation['accuracy'] * evaluation['count'])),
        'count': evaluation['count'],
        'max_abs_probability_difference': float(np.abs(probabilities - keras_probabilities).max()),
        'predictions_that_differ': int((probabilities.argmax(1)
                                        != keras_probabilities.argmax(1)).sum()),
    }
  with open(os.path.join(out, 'keras_bridge.json'), 'w') as f:
    json.dump(result, f, indent=2)
  print(json.dumps(result, indent=2))


if __name__ == '__main__':
  main()
