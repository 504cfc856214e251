"""Where the well-known datasets lie on disk, and which reader of cnnlab.dataset_files reads them.

  data.name      reads (data.dir, or the places below)               then
  fashion_mnist  idx folder (Keras' cache, Debian's dataset-fashion-mnist, torchvision's raw/)  tfds
  mnist          idx folder, or Keras' mnist.npz                    tfds
  kmnist         idx folder                                         tfds
  cifar10        cifar-10-batches-py/ or cifar-10-python.tar.gz      tfds
  cifar100       cifar-100-python/ or cifar-100-python.tar.gz        tfds
  idx            any idx folder (EMNIST, your own), classes 0..K-1   -

With data.dir the files there are read (a folder, the folder above it, or the
file itself); without, the places users' tools leave them: Keras' cache
($KERAS_HOME or ~/.keras/datasets, where keras.datasets.*.load_data() puts
them) and /usr/share/datasets (Debian's dataset-fashion-mnist). `locate`
returns None when nothing is there; input_pipeline then asks tfds.
"""
import os
from typing import List, NamedTuple, Optional, Sequence, Tuple

from cnnlab import dataset_files
from cnnlab.core.errors import UserError

# Debian's dataset-* packages install here (dataset-fashion-mnist: fashion-mnist/).
SYSTEM_DATASETS_DIR = '/usr/share/datasets'

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                         'Sneaker', 'Bag', 'Ankle boot')
# KMNIST's ten hiragana (Clanuwat et al. 2018), romanized as in its classmap.
KMNIST_CLASSES = ('o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo')


class Source(NamedTuple):
  formats: Tuple[str, ...]  # readers tried in order: 'idx', 'keras_npz', 'cifar'
  class_names: Tuple[str, ...]  # () = from the files (CIFAR's meta) or 0..K-1
  image_shape: Optional[Tuple[int, int, int]]  # known before reading (cnnlab.summary); None: read
  num_classes: int  # (cifar100: its fine labels)
  keras_cache: Tuple[str, ...]  # names under Keras' datasets folder
  system: Tuple[str, ...]  # names under SYSTEM_DATASETS_DIR
  how_to_get: str  # the fix, when nothing is found
  tfds: bool = True  # tfds has it under the same name


KERAS_GET = "with internet, python -c 'import keras; keras.datasets.{0}.load_data()' caches it"
SOURCES = {
    'fashion_mnist': Source(
        ('idx',), FASHION_MNIST_CLASSES, (28, 28, 1), 10, ('fashion-mnist',), ('fashion-mnist',),
        'on Debian/Ubuntu: apt-get install dataset-fashion-mnist (the official idx files, '
        f'lossless, into {SYSTEM_DATASETS_DIR}/fashion-mnist); or ' + KERAS_GET.format(
            'fashion_mnist')),
    'mnist': Source(
        ('idx', 'keras_npz'), tuple(str(k) for k in range(10)), (28, 28, 1), 10, ('mnist.npz',),
        ('mnist',), KERAS_GET.format('mnist') + '; or pass the folder of the four official '
        'train/t10k idx files'),
    'kmnist': Source(
        ('idx',), KMNIST_CLASSES, (28, 28, 1), 10, (), ('kmnist',),
        'pass --config.data.dir=<folder of the four train/t10k idx files from the KMNIST '
        'repository (rois-codh/kmnist)>'),
    'cifar10': Source(
        ('cifar',), (), (32, 32, 3), 10, ('.',), ('cifar10',),
        KERAS_GET.format('cifar10') + '; or pass the cifar-10-batches-py folder or '
        'cifar-10-python.tar.gz (www.cs.toronto.edu/~kriz/cifar.html)'),
    'cifar100': Source(
        ('cifar',), (), (32, 32, 3), 100, ('.',), ('cifar100',),
        KERAS_GET.format('cifar100') + '; or pass the cifar-100-python folder or '
        'cifar-100-python.tar.gz (www.cs.toronto.edu/~kriz/cifar.html)'),
    'idx': Source(('idx',), (), None, 0, (), (),
                  'pass --config.data.dir=<folder holding train-images-idx3-ubyte[.gz], '
                  'train-labels-idx1-ubyte[.gz] and the t10k files>', tfds=False),
}


def keras_datasets_dir() -> str:
  """Where keras.datasets caches its downloads ($KERAS_HOME/datasets, else ~/.keras/datasets)."""
  home = os.environ.get('KERAS_HOME') or os.path.join(os.path.expanduser('~'), '.keras')
  return os.path.join(home, 'datasets')


def default_places(name: str) -> List[str]:
  """The paths looked at, in order, when data.dir is empty."""
  source = SOURCES[name]
  return ([os.path.normpath(os.path.join(keras_datasets_dir(), p)) for p in source.keras_cache]
          + [os.path.join(SYSTEM_DATASETS_DIR, p) for p in source.system])


def _find(name: str, path: str) -> Optional[Tuple[str, str]]:
  """(format, path) of `name`'s files at `path`, or None."""
  for kind in SOURCES[name].formats:
    if kind == 'idx':
      folder = dataset_files.find_idx_folder(path)
      if folder:
        return kind, folder
    elif kind == 'keras_npz':
      for candidate in (path, os.path.join(path, 'mnist.npz')):
        if os.path.isfile(candidate) and candidate.endswith('.npz'):
          return kind, candidate
    elif kind == 'cifar':
      found = dataset_files.find_cifar(path, name)
      if found:
        return kind, found
  return None


def locate(name: str, data_dir: str) -> Tuple[Optional[Tuple[str, str]], List[str]]:
  """((format, path) or None, the places looked at)."""
  places = [data_dir] if data_dir else default_places(name)
  for place in places:
    found = _find(name, os.path.expanduser(place))
    if found:
      return found, places
  return None, places


def read(name: str, kind: str, path: str, split: str, cifar100_labels: str = 'fine'
         ) -> dataset_files.Arrays:
  """One split ('train' or 'test') of `name` from the files `locate` found."""
  names = SOURCES[name].class_names
  if kind == 'idx':
    return dataset_files.load_idx(path, split, names)
  if kind == 'keras_npz':
    return dataset_files.load_keras_npz(path, split, names)
  return dataset_files.load_cifar(path, name, split, cifar100_labels)


def not_found(name: str, places: Sequence[str], tfds_error: str = '') -> UserError:
  """The error that lists where `name` was looked for and how to get it."""
  source = SOURCES[name]
  looked = '\n  '.join(places)
  tfds = (f'\n  tensorflow-datasets: {tfds_error}' if tfds_error else '')
  expected = {'idx': 'the train/t10k idx-ubyte files (gzipped or not)',
              'keras_npz': "Keras' mnist.npz",
              'cifar': f'{dataset_files.CIFAR[name][0]}/ or its .tar.gz' if name in
                       dataset_files.CIFAR else ''}
  wanted = ' or '.join(expected[k] for k in source.formats)
  return UserError(f'no {name} data found ({wanted}). Looked in:\n  {looked}{tfds}\n'
                   f'To get it: {source.how_to_get}; or pass --config.data.dir=<where it is>.')
