"""configs/seeds/: each seed experiment's config states the seed's protocol."""
import importlib
import json
import os

import pytest

from cnnlab import models
from conftest import REPO

SEEDS_DIR = os.path.join(REPO, 'configs', 'seeds')
NAMES = sorted(f[:-3] for f in os.listdir(SEEDS_DIR)
               if f.startswith('seed') and f.endswith('.py') and not f.endswith('_common.py'))


@pytest.mark.parametrize('name', NAMES)
def test_docstring_gives_the_command_and_the_seeds_number(name):
  module = importlib.import_module(f'configs.seeds.{name}')
  doc = module.__doc__
  assert f'--config=configs/seeds/{name}.py' in doc, name
  assert 'printed' in doc or 'not run here' in doc, name  # the seed's own number, or why not
  module.get_config()  # builds


@pytest.mark.parametrize('name,params', [('seed004_mlp', 924_910), ('seed004_conv1', 82_826),
                                         ('seed004_conv4', 234_550), ('seed004_vgg', 640_502)])
def test_seed004_cifar_protocol(name, params):
  config = importlib.import_module(f'configs.seeds.{name}').get_config()
  # Keras 2's Adadelta defaults, batch 300, 10 epochs, no augmentation.
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.rho,
          config.optimizer.eps) == ('adadelta', 1.0, 0.95, 1e-7)
  assert (config.batch_size, config.num_epochs, config.augment) == (300, 10, '')
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  model = models.from_config(config.model, 10)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
  assert sum(x.size for x in jax.tree_util.tree_leaves(variables['params'])) == params


def test_seed004_subtraction_is_the_seeds_keras_setup():
  from configs.seeds import seed004_subtraction  # pylint: disable=g-import-not-at-top
  from seq2seq import input_pipeline  # pylint: disable=g-import-not-at-top
  config = seed004_subtraction.get_config()
  assert (config.operation, config.model.name, config.batch_size, config.num_epochs) == (
      '-', 'keras_lstm', 128, 39)
  assert config.model.recurrent_activation == 'hard_sigmoid'  # tf.keras 1.x's LSTM
  assert config.reverse_input and not config.reverse_target
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.grad_clip_norm) == (
      'adam', 1e-3, 0.0)
  dataset = input_pipeline.create_dataset(config)
  assert (len(dataset.train), len(dataset.val), len(dataset.test)) == (45_000, 5_000, 5_000)


# ---- shared helpers for seeds 000, 002, 003 -------------------------------------------

def _config(name):
  return importlib.import_module(f'configs.seeds.{name}').get_config()


def _param_counts(config, shape, num_classes):
  """(trainable, total) as Keras' summary() counts them (BatchNorm statistics non-trainable)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  model = models.from_config(config.model, num_classes)
  variables = jax.eval_shape(  # shapes only: nothing is compiled or computed
      lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))
  count = lambda tree: sum(x.size for x in jax.tree_util.tree_leaves(tree))
  trainable = count(variables['params'])
  return trainable, trainable + count(variables.get('batch_stats', {}))


def _lr(config, step, steps_per_epoch, num_steps):
  from cnnlab import schedules  # pylint: disable=g-import-not-at-top
  return float(schedules.create_schedule(config, steps_per_epoch, num_steps)(step))


def _max_norm_kernels(config, shape, num_classes):
  """The kernel paths config's max_norm_layers selects."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from cnnlab import optimizers  # pylint: disable=g-import-not-at-top
  model = models.from_config(config.model, num_classes)
  params = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))['params']
  mask = optimizers.kernels_matching(config.optimizer.max_norm_layers)(params)
  return sorted(optimizers.path_name(path) for path, keep in
                jax.tree_util.tree_flatten_with_path(mask)[0] if keep)


# ---- seed 000 --------------------------------------------------------------------------

def test_seed000_baseline_protocol():
  config = _config('seed000_baseline')
  # Keras' SGD(lr=0.001): no momentum, no decay; batch 500, 300 epochs, 80/20 split.
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.momentum,
          config.optimizer.nesterov, config.schedule.name) == ('sgd', 0.001, 0.0, False, 'constant')
  assert (config.batch_size, config.num_epochs, config.data.val_fraction) == (500, 300, 0.2)
  assert config.augment == 'flip_lr|samplewise_center|samplewise_std'
  assert _param_counts(config, (1, 32, 32, 3), 10) == (2_168_362, 2_168_362)  # seed000 line 254
  doc = importlib.import_module('configs.seeds.seed000_baseline').__doc__
  # The LR range test as seed 000 ran it: a linear ramp 0.001 -> 0.1 over 4,000 steps.
  assert '--sweep=linear --min_lr=0.001 --max_lr=0.1 --num_steps=4000' in doc
  assert '0.5586' in doc


def test_seed000_clr_is_bckenstlers_triangle():
  config = _config('seed000_clr')
  assert (config.optimizer.name, config.optimizer.momentum, config.batch_size,
          config.num_epochs) == ('sgd', 0.0, 500, 300)
  assert config.init_from == 'runs/seeds/seed000_baseline' and config.log_step_records
  # CyclicLR(base_lr=0.001, max_lr=0.01, step_size=160, 'triangular'): 80 steps per epoch.
  lrs = [_lr(config, s, 80, 24_000) for s in (0, 80, 160, 240, 320, 480)]
  assert lrs == pytest.approx([0.001, 0.0055, 0.01, 0.0055, 0.001, 0.01])


def test_seed000_lr_range_is_one_linear_ramp_over_the_whole_run():
  config = _config('seed000_lr_range')
  assert (config.optimizer.name, config.optimizer.momentum, config.batch_size,
          config.num_epochs) == ('sgd', 0.0, 500, 50)
  assert config.init_from == 'runs/seeds/seed000_baseline' and config.log_step_records
  # CyclicLR(base_lr=0.001, max_lr=0.1, step_size=50 x 80 = 4,000): 0.001 rising to 0.1.
  lrs = [_lr(config, s, 80, 4_000) for s in (0, 1000, 2000, 3999)]
  assert lrs == pytest.approx([0.001, 0.02575, 0.0505, 0.1 - 0.099 / 4000], rel=1e-5)


def test_seed000_optimizer_comparison_sweep_parses_and_builds():
  from cnnlab import optimizers  # pylint: disable=g-import-not-at-top
  from cnnlab import sweep  # pylint: disable=g-import-not-at-top
  module = importlib.import_module('configs.seeds.seed000_optimizers')
  config = module.get_config()
  assert config.init_from == 'runs/seeds/seed000_clr' and config.num_epochs == 30
  assert (config.optimizer.eps, config.optimizer.eps_in_sqrt,
          config.optimizer.initial_accumulator_value) == (1e-7, False, 0.0)  # Keras 2
  assert _lr(config, 0, 80, 2400) == pytest.approx(0.0005)
  assert _lr(config, 320, 80, 2400) == pytest.approx(0.008)  # step_size 4 x 80
  spec = module.__doc__.split("--sweep='", 1)[1].split("'", 1)[0]
  variants = sweep.parse_sweeps(config, [spec])
  assert [dict(v) for v in variants] == [
      {'optimizer.name': n, 'optimizer.rho': r}
      for n, r in [('rmsprop', 0.9), ('adagrad', 0.9), ('adadelta', 0.95), ('adam', 0.9)]]
  for variant in variants:  # each builds
    c = config.copy_and_resolve_references()
    for field, value in variant:
      c.optimizer[field.split('.')[1]] = value
    optimizers.create_optimizer(c, 80, 2400)
  assert '0.8693' in module.__doc__ and '0.7646' in module.__doc__


# ---- seed 002 --------------------------------------------------------------------------

SEED002 = {
    # name: (model, dropout, (trainable, total params), optimizer, batch, epochs, time decay,
    #        augment, max-norm kernels, init_from)
    'seed002_large': ('large_cnn', '', (2_915_114, 2_915_114), 'sgd', 64, 25, 0.01 / 25, '',
                      ['Dense_0/kernel', 'Dense_1/kernel'], ''),
    'seed002_large_100': ('large_cnn', '', (2_915_114, 2_915_114), 'sgd', 64, 100, 0.01 / 100,
                          '', ['Dense_0/kernel', 'Dense_1/kernel'], ''),
    'seed002_large_less_dropout': ('large_cnn', '0.2,0,0,0,0.2,0.2', (2_915_114, 2_915_114),
                                   'sgd', 64, 25, 0.01 / 25, '',
                                   ['Dense_0/kernel', 'Dense_1/kernel'], ''),
    # Summaries: wide 1,172,410 (seed002 lines 632, 844), bn 685,354 / 684,458 (1022-1023).
    'seed002_wide': ('wide_cnn', '0', (1_172_410, 1_172_410), 'adam', 128, 100, None, '', [],
                     ''),
    'seed002_wide_augment': ('wide_cnn', '0', (1_172_410, 1_172_410), 'adam', 128, 200, None,
                             'zoom(0.2)|flip_lr', [], 'runs/seeds/seed002_wide'),
    'seed002_wide_dropout_augment': ('wide_cnn', '', (1_172_410, 1_172_410), 'adam', 128, 100,
                                     None, 'zoom(0.2)|flip_lr', [], ''),
    'seed002_bn_augment': ('bn_cnn', '', (684_458, 685_354), 'sgd', 64, 50, 0.01 / 50,
                           'translate(0.1)|flip_lr', [], ''),
}


@pytest.mark.parametrize('name', sorted(SEED002))
def test_seed002_protocol(name):
  (model, dropout, params, optimizer, batch, epochs, decay, spec, max_norm,
   init_from) = SEED002[name]
  config = _config(name)
  assert (config.model.name, config.model.dropout) == (model, dropout)
  assert (config.optimizer.name, config.batch_size, config.num_epochs) == (
      optimizer, batch, epochs)
  assert (config.augment, config.init_from) == (spec, init_from)
  if optimizer == 'sgd':  # SGD(lr=0.01, momentum=0.9, decay=0.01/epochs, nesterov=False)
    assert (config.optimizer.lr, config.optimizer.momentum, config.optimizer.nesterov,
            config.optimizer.momentum_style, config.schedule.name) == (
                0.01, 0.9, False, 'keras', 'time_based')
    assert config.schedule.time_decay == pytest.approx(decay)
  else:  # Keras 2's 'adam'
    assert (config.optimizer.lr, config.optimizer.eps, config.schedule.name) == (
        0.001, 1e-7, 'constant')
  assert _param_counts(config, (1, 32, 32, 3), 10) == params
  if max_norm:
    assert (config.optimizer.max_norm, config.optimizer.max_norm_axes) == (3.0, 'keras')
    assert _max_norm_kernels(config, (1, 32, 32, 3), 10) == max_norm
  else:
    assert config.optimizer.max_norm == 0.0
  if spec:
    from cnnlab import augment  # pylint: disable=g-import-not-at-top
    augment.create_pipeline(spec)


def test_seed002_less_dropout_keeps_the_seeds_three_dropout_layers():
  config = _config('seed002_large_less_dropout')
  layers = models.from_config(config.model, 10).layers
  kinds = [kind for kind, _ in layers if kind != 'bn']
  # Dropout .2 after the first conv and after each hidden dense layer (seed002 lines 461-475).
  assert [rate for kind, rate in layers if kind == 'drop'] == [0.2, 0.2, 0.2]
  assert kinds[:2] == ['conv', 'drop'] and kinds[-4:] == ['dense', 'drop', 'dense', 'drop']


# ---- seed 003 --------------------------------------------------------------------------

SEED003 = {
    # name: (model, (trainable, total params), optimizer, lr, schedule, augment)
    # Summaries: brief 804,037 / 803,973 (seed003 line 320), deeper 257,221 / 257,029 (684-686).
    'seed003_brief': ('fashion_brief', (803_973, 804_037), 'adam', 0.001, 'constant', ''),
    'seed003_deeper': ('fashion_deep', (257_029, 257_221), 'adam', 0.001, 'constant', ''),
    'seed003_affine': ('fashion_deep', (257_029, 257_221), 'adam', 0.001, 'constant',
                       'rotate(8)|zoom(0.1)|shear(0.3)|translate(0.08)|flip_ud'),
    'seed003_elastic_sgdr': ('fashion_deep', (257_029, 257_221), 'adamax', 0.006, 'sgdr',
                             'translate(0, 2)|flip_lr|elastic(alpha=(10, 12), sigma=4)'),
    'seed003_adamax': ('fashion_deep', (257_029, 257_221), 'adamax', 0.001, 'constant', ''),
}


@pytest.fixture(scope='module')
def seed003_file(tmp_path_factory):
  """A .npy in the seed's format: a dict of features (N, 28, 28) and float targets 1.0..5.0."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  target = np.repeat(np.arange(1.0, 6.0), 12)  # 60 images, 12 per class
  features = rng.integers(0, 60, (60, 28, 28)).astype(np.uint8)
  for k in range(5):  # a class-dependent bright bar, so there is something to learn
    features[target == k + 1, 4 * k + 2:4 * k + 6, 4:24] = 220
  path = tmp_path_factory.mktemp('seed003') / 'fashion_mnist_dataset_train.npy'
  np.save(path, {'features': features, 'target': target})
  return str(path)


@pytest.fixture(scope='module')
def fashion_mnist_folder(tmp_path_factory):
  """The four official Fashion-MNIST idx files (gzipped), 10 classes, 60 train / 20 test images."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from conftest import write_idx_folder  # pylint: disable=g-import-not-at-top

  def split(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for k in range(10):  # a class-dependent bright bar, so there is something to learn
      images[labels == k, 2 * k + 2:2 * k + 5, 4:24] = 220
    return images, labels

  return write_idx_folder(tmp_path_factory.mktemp('fashion-mnist'), split(60, 0), split(20, 1))


def _tiny_run(config, workdir):
  from cnnlab import train  # pylint: disable=g-import-not-at-top
  from cnnlab.core import history  # pylint: disable=g-import-not-at-top
  config.num_epochs = 1
  config.batch_size = 10
  config.eval_batch_size = 10
  config.log_every_steps = 1
  config.report = False
  train.train_and_evaluate(config, workdir)
  records = [r for r in history.read(workdir) if 'val_accuracy' in r]
  assert len(records) == 1 and 0.0 <= records[0]['val_accuracy'] <= 1.0
  with open(os.path.join(workdir, 'eval_test.json')) as f:
    return json.load(f)


@pytest.mark.parametrize('name', sorted(SEED003))
def test_seed003_protocol_and_a_tiny_run_on_the_official_files(name, fashion_mnist_folder,
                                                               tmp_path):
  from cnnlab.core import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  model, params, optimizer, lr, schedule, spec = SEED003[name]
  config = _config(name)
  # The real Fashion-MNIST by default: 6,000 of the 60,000 for val, the official test split.
  assert (config.data.name, config.data.dir, config.data.val_fraction) == ('fashion_mnist', '', 0.1)
  assert (config.batch_size, config.num_epochs, config.model.name) == (128, 100, model)
  assert (config.optimizer.name, config.optimizer.lr, config.optimizer.eps,
          config.schedule.name, config.augment) == (optimizer, lr, 1e-7, schedule, spec)
  assert _param_counts(config, (1, 28, 28, 1), 5) == params  # the seed's 5-class summary
  if schedule == 'sgdr':  # CosineAnneal(max_lr=0.006, min_lr=0.001, T=10, T_mul=1), 375 steps
    assert [_lr(config, s, 375, 37_500) for s in (0, 1875, 3749, 3750, 7500)] == pytest.approx(
        [0.006, 0.0035, 0.001, 0.006, 0.006], abs=1e-6)
  # One epoch on the official files' format: 50 train / 10 val (one of each class's six), the
  # 20 test images once, at the end.
  config.data.dir = fashion_mnist_folder
  workdir = str(tmp_path / name)
  evaluation = _tiny_run(config, workdir)
  assert evaluation['count'] == 20 and evaluation['class_names'][0] == 'T-shirt/top'
  meta = workdir_lib.read_meta(workdir)
  assert (meta['data']['num_train'], meta['data']['num_val'], meta['data']['num_test']) == (
      50, 10, 20)
  assert meta['class_names'][-1] == 'Ankle boot' and len(meta['class_names']) == 10


@pytest.mark.parametrize('name', ['seed003_brief', 'seed003_elastic_sgdr'])
def test_seed003_on_the_seeds_own_kaggle_file(name, seed003_file, tmp_path):
  from cnnlab.core import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  config = _config(name)
  config.data.name, config.data.dir = 'arrays', seed003_file
  workdir = str(tmp_path / name)
  # 80/10/10 of the 60 images (one of each class's 12 for val and for test): the 5 test
  # images once, at the end.
  assert _tiny_run(config, workdir)['count'] == 5
  meta = workdir_lib.read_meta(workdir)
  assert (meta['data']['num_train'], meta['data']['num_val'], meta['data']['num_test']) == (
      50, 5, 5)
  assert '5.0' in json.dumps(meta)  # the seed's original targets are kept


def test_summary_prints_the_seeds_shapes_without_being_told(fashion_mnist_folder):
  from conftest import run_module  # pylint: disable=g-import-not-at-top
  result = run_module('cnnlab.summary', '--config=configs/seeds/seed003_brief.py',
                      f'--config.data.dir={fashion_mnist_folder}')
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'input (28, 28, 1)' in result.stdout and '10 classes' in result.stdout
  # 28x28x1 through Conv32, BN, pool, Dense 128 and a 10-way head: 804,037 + 5 * 129.
  assert 'Total params: 804,682' in result.stdout


# ---- benchmarks/seeds.py -------------------------------------------------------------------

SEED_TEXTS = os.path.join(os.path.dirname(REPO), 'shared', 'seeds')


def _formats(value):
  return {f'{value:.4f}', f'{value:g}', f'{value * 100:.2f}'}


def _import_seeds_table():
  import sys  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
  try:
    return importlib.import_module('seeds')
  finally:
    sys.path.pop(0)


def _seed_line(seed, line_number):
  path = [os.path.join(SEED_TEXTS, f) for f in os.listdir(SEED_TEXTS)
          if f.startswith(seed + '_')][0]
  with open(path) as f:
    return f.read().splitlines()[line_number - 1]


def test_seeds_table_names_configs_that_quote_the_number_read_at_that_line():
  import re  # pylint: disable=g-import-not-at-top
  seeds = _import_seeds_table()
  for name, (value, epoch, what) in seeds.SEEDS.items():
    module = importlib.import_module(f'configs.seeds.{name}')  # a config exists
    match = re.search(r'(seed\d{3}) lines? (\d+)', what)
    assert match and epoch > 0, (name, what)
    if value is None:  # the seed printed no number: the docstring says what it printed
      continue
    assert any(f in module.__doc__ for f in _formats(value)), (name, value)
    if not os.path.isdir(SEED_TEXTS):
      continue  # the seed notebooks are not beside this checkout
    line = _seed_line(match.group(1), int(match.group(2)))
    assert any(f in line for f in _formats(value)), (name, value, line)


def test_seed_curves_quote_the_val_accuracy_on_that_line():
  seeds = _import_seeds_table()
  if not os.path.isdir(SEED_TEXTS):
    pytest.skip('the seed notebooks are not beside this checkout')
  for name, curve in seeds.CURVES.items():
    seed = name.split('_')[0]
    for epoch, (value, line_number) in curve.items():
      line = _seed_line(seed, line_number)
      # A Keras log line (the val_ part of it) or seed 004's "Validation accuracy: x".
      assert 'val_' in line or line.startswith('Validation accuracy:'), (name, epoch, line)
      assert any(f in line.split('val_')[-1] for f in _formats(value)), (name, epoch, value, line)


def test_seeds_table_compares_a_cut_short_run_with_the_seeds_curve(tmp_path):
  seeds = _import_seeds_table()
  for name, accuracies in (('seed002_wide', [0.55, 0.61, 0.69]),
                           ('seed002_wide_s1', [0.57, 0.60, 0.70])):
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / 'metrics.jsonl', 'w') as f:
      for epoch, accuracy in enumerate(accuracies, 1):
        f.write(json.dumps(dict(epoch=float(epoch), val_accuracy=accuracy,
                                elapsed_seconds=10.0 * epoch)) + '\n')
  row = seeds.row(str(tmp_path), 'seed002_wide')
  # Compared at epoch 3 with the seed's epoch-3 value and its line; both seeds and their mean.
  assert '| 3: 0.6956 (line 648) | 0.6900, 0.7000; mean 0.6950 (n=2) |' in row, row
  assert '0.7807 (epoch 100)' in row
  assert '| not run |' in seeds.row(str(tmp_path), 'seed002_simple')
  table = seeds.curve_table(str(tmp_path), 'seed002_wide').splitlines()
  assert table[0] == '| epoch | seed (seed002_wide) | cnnlab seed002_wide | cnnlab seed002_wide_s1 |'
  assert table[-1] == '| 3 | 0.6956 (line 648) | 0.6900 | 0.7000 |' and len(table) == 5
  assert seeds.curve_table(str(tmp_path), 'seed002_simple') == ''


def test_fashion_table_puts_the_test_reading_beside_the_published_rows(tmp_path):
  seeds = _import_seeds_table()
  workdir = tmp_path / 'seed003_deeper'
  os.makedirs(workdir)
  with open(workdir / 'metrics.jsonl', 'w') as f:
    for epoch, accuracy in enumerate([0.90, 0.92, 0.91], 1):
      f.write(json.dumps(dict(epoch=float(epoch), val_accuracy=accuracy,
                              elapsed_seconds=60.0 * epoch)) + '\n')
  with open(workdir / 'eval_test.json', 'w') as f:
    json.dump({'accuracy': 0.9171, 'count': 10000}, f)
  table = seeds.fashion_table(str(tmp_path))
  row = [line for line in table.splitlines() if line.startswith('| seed003_deeper')][0]
  assert "| 3 of the seed's 100 (cut short) | 0.9200 (epoch 2) | **0.9171** | 180 |" in row
  assert '3 Conv+pooling+2 FC+dropout (none) 0.926 (line 166)' in row
  assert '| seed003_brief | not run |' in table


def test_published_fashion_rows_quote_the_datasets_readme():
  import gzip  # pylint: disable=g-import-not-at-top
  seeds = _import_seeds_table()
  readme = '/usr/share/doc/dataset-fashion-mnist/README.md.gz'
  if not os.path.exists(readme):
    pytest.skip('apt-get install dataset-fashion-mnist puts the README there')
  with gzip.open(readme, 'rt') as f:
    lines = f.read().splitlines()
  for classifier, _, accuracy, line_number in seeds.PUBLISHED.values():
    line = lines[line_number - 1]
    assert classifier.split(' (')[0] in line and f'{accuracy:.3f}'.rstrip('0') in line, line
