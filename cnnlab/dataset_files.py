"""The official dataset files, read offline: idx-ubyte, CIFAR's python pickles, Keras' mnist.npz.

Formats (what the distributors and the common tools leave on disk):
  idx       MNIST, Fashion-MNIST, KMNIST, EMNIST: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
            gzipped or not; a 4-byte magic (0, 0, type, ndim), ndim big-endian uint32 sizes,
            then the values row-major. Keras' fashion-mnist cache and
            torchvision's <root>/<Name>/raw/ folders hold these files.
  cifar     cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta) and
            cifar-100-python/ (train, test, meta), or their .tar.gz as downloaded:
            pickled dicts with byte-string keys, b'data' rows of 3,072 bytes,
            channel-planar (1,024 red, 1,024 green, 1,024 blue, each row-major).
  keras_npz Keras' mnist.npz: x_train, y_train, x_test, y_test.

Every reader returns `Arrays` (uint8 NHWC images, int labels, class names) and
raises UserError naming the file and what is wrong with it. Nothing here
downloads or writes anything.
"""
import gzip
import io
import os
import pickle
import re
import struct
import tarfile
import zlib
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from cnnlab.core.errors import UserError

class Arrays(NamedTuple):
  images: np.ndarray  # uint8 [N, H, W, C]
  labels: np.ndarray  # int64 [N]
  class_names: List[str]
  source: str  # the file(s) read, for logs and meta.json


# ---- idx-ubyte -------------------------------------------------------------------

# idx's type byte -> big-endian dtype (http://yann.lecun.com/exdb/mnist/).
IDX_TYPES = {0x08: '>u1', 0x09: '>i1', 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}
# (0 = the whole name; the idx names' own prefixes: 'train', 't10k', EMNIST's 'emnist-balanced-test')
IDX_PATTERN = re.compile(r'^(?:.*[-_])?(train|t10k|test)[-_.](images|labels)[-_.]idx([13])[-_.]ubyte'
                         r'(\.gz)?$')


def read_bytes(path: str) -> bytes:
  """The file's bytes, gunzipped when it is gzip (by content, whatever its name)."""
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except OSError as e:
    raise UserError(f'cannot read {path!r}: {e.strerror or e}') from None
  if raw[:2] == b'\x1f\x8b':
    try:
      raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
      raise UserError(f'{path!r} is a damaged or truncated gzip file ({e}): the download was '
                      'probably cut short; fetch the file again') from None
  return raw


def parse_idx(raw: bytes, path: str) -> np.ndarray:
  """An idx file's bytes as a native-endian array of the shape its header gives."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
    raise UserError(
        f'{path!r} is not an idx file: it starts with {raw[:4].hex() or "nothing"}, where an '
        'idx file starts with the magic number 0000 <type 08..0e> <dims> (00000803 for '
        'images, 00000801 for labels). Is it the right file, and fully unpacked?')
  ndim = raw[3]
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise UserError(f'{path!r} is truncated: {len(raw)} bytes, shorter than its own header '
                    f'({header} bytes); fetch the file again')
  shape = struct.unpack(f'>{ndim}I', raw[4:header])
  dtype = np.dtype(IDX_TYPES[raw[2]])
  expected = header + int(np.prod(shape)) * dtype.itemsize
  if len(raw) != expected:
    what = 'truncated' if len(raw) < expected else 'longer than its header says'
    raise UserError(f'{path!r} is {what}: its header gives shape {shape} ({expected:,} bytes '
                    f'with the header), the file has {len(raw):,} bytes; fetch it again')
  return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder('='))


def read_idx(path: str) -> np.ndarray:
  return parse_idx(read_bytes(path), path)


def idx_files(folder: str) -> Dict[Tuple[str, str], str]:
  """{(split, 'images' | 'labels'): path} of the idx files directly in `folder`.

  Unpacked files win over their .gz (the same data, read faster); split is
  'train' or 'test' ('t10k', the official name of the test files, too).
  """
  found: Dict[Tuple[str, str], str] = {}
  try:
    names = sorted(os.listdir(folder))
  except OSError:
    return found
  for name in names:
    m = IDX_PATTERN.match(name)
    if not m or (m.group(2) == 'images') != (m.group(3) == '3'):
      continue
    key = ('train' if m.group(1) == 'train' else 'test', m.group(2))
    if key not in found or found[key].endswith('.gz'):
      found[key] = os.path.join(folder, name)
  return found


def find_idx_folder(path: str) -> Optional[str]:
  """`path` (or the folder of the file `path`) or the folder under it (torchvision's
  <Name>/raw/) that holds idx files."""
  if os.path.isfile(path):
    path = os.path.dirname(path) or '.'
  candidates = [path, os.path.join(path, 'raw')]
  if os.path.isdir(path):
    candidates += [os.path.join(path, d, 'raw') for d in sorted(os.listdir(path))]
  for folder in candidates:
    if ('train', 'images') in idx_files(folder):
      return folder
  return None


def load_idx(folder: str, split: str, class_names: Sequence[str]) -> Arrays:
  """The split's images and labels from the idx files in `folder`."""
  files = idx_files(folder)
  missing = [f'{split}-{kind}' for kind in ('images', 'labels') if (split, kind) not in files]
  if missing:
    official = 'train' if split == 'train' else 't10k'
    raise UserError(
        f'{folder!r} has no {" or ".join(missing)} idx file: it needs '
        f'{official}-images-idx3-ubyte[.gz] and {official}-labels-idx1-ubyte[.gz] '
        f'(found: {", ".join(os.path.basename(p) for p in files.values()) or "none"})')
  images_path, labels_path = files[(split, 'images')], files[(split, 'labels')]
  images, labels = read_idx(images_path), read_idx(labels_path)
  if images.ndim not in (3, 4) or images.dtype != np.uint8:
    raise UserError(f'{images_path!r} holds {images.dtype} values of shape {images.shape}; '
                    'an image file holds uint8 [N, H, W] (idx type 08, 3 dimensions)')
  if labels.ndim != 1:
    raise UserError(f'{labels_path!r} holds shape {labels.shape}; a label file holds one '
                    'label per image (1 dimension). Are the image and label files swapped?')
  if len(images) != len(labels):
    raise UserError(f'{images_path!r} holds {len(images):,} images but {labels_path!r} '
                    f'{len(labels):,} labels: the files are from different sets or one is '
                    'cut short; fetch both again')
  images = images[..., None] if images.ndim == 3 else images
  return Arrays(images, labels.astype(np.int64), names_for(labels, class_names, labels_path),
                f'{images_path} + {labels_path}')


def names_for(labels: np.ndarray, class_names: Sequence[str], path: str) -> List[str]:
  """class_names, checked to cover the labels (or '0'..'K-1' when none are known)."""
  top = int(labels.max()) if len(labels) else -1
  if labels.size and labels.min() < 0:
    raise UserError(f'{path!r} holds negative labels ({int(labels.min())}); labels are 0..K-1')
  if not class_names:
    return [str(k) for k in range(top + 1)]
  if top >= len(class_names):
    raise UserError(f'{path!r} holds label {top}, but this dataset has {len(class_names)} '
                    f'classes ({", ".join(class_names)}): is it another dataset\'s file? Use '
                    "--config.data.name=idx for any idx folder")
  return list(class_names)


# ---- CIFAR python pickles --------------------------------------------------------

class _NumpyOnlyUnpickler(pickle.Unpickler):
  """Unpickles dicts, lists, bytes and numpy arrays, and nothing that could run code."""
  ALLOWED = {('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
             ('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', 'scalar'),
             ('numpy._core.multiarray', 'scalar'), ('_codecs', 'encode')}

  def find_class(self, module, name):
    if (module, name) in self.ALLOWED:
      return super().find_class(module, name)
    raise pickle.UnpicklingError(f'refusing to load {module}.{name} (not part of a CIFAR batch)')


def parse_pickle(raw: bytes, path: str) -> dict:
  """A CIFAR pickle's dict, with its byte-string keys as str."""
  try:
    obj = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding='latin1').load()
  except Exception as e:  # pylint: disable=broad-except  (any damage shows as some error)
    raise UserError(f'{path!r} is not a readable CIFAR pickle ({type(e).__name__}: {e}): '
                    'it is damaged or cut short; fetch the archive again') from None
  if not isinstance(obj, dict):
    raise UserError(f'{path!r} holds a {type(obj).__name__}, where a CIFAR batch is a dict')
  return {k.decode('latin1') if isinstance(k, bytes) else k: v for k, v in obj.items()}


CIFAR = {
    # name: (folder, archive, train members, test members, meta member, meta key, label key)
    'cifar10': ('cifar-10-batches-py', 'cifar-10-python.tar.gz',
                tuple(f'data_batch_{i}' for i in range(1, 6)), ('test_batch',), 'batches.meta',
                'label_names', 'labels'),
    'cifar100': ('cifar-100-python', 'cifar-100-python.tar.gz', ('train',), ('test',), 'meta',
                 '{labels}_label_names', '{labels}_labels'),
}


class _Members:
  """Reads CIFAR's members from its folder or from its .tar.gz, by base name."""

  def __init__(self, path: str):
    self.path = path
    self.tar = None
    if os.path.isfile(path):
      try:
        self.tar = tarfile.open(path)
        self.names = {os.path.basename(m.name): m for m in self.tar.getmembers() if m.isfile()}
      except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise UserError(f'{path!r} is not a readable .tar.gz ({e}): the download was probably '
                        'cut short; fetch it again') from None

  def read(self, name: str) -> Tuple[bytes, str]:
    if self.tar is None:
      where = os.path.join(self.path, name)
      if not os.path.isfile(where):
        raise UserError(f'{self.path!r} has no {name!r}: is the folder complete (as unpacked from '
                        'the official archive)?')
      return read_bytes(where), where
    where = f'{self.path}:{name}'
    if name not in self.names:
      raise UserError(f'{self.path!r} holds no {name!r}: is it the official archive?')
    try:
      return self.tar.extractfile(self.names[name]).read(), where
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
      raise UserError(f'{where!r} cannot be read ({e}): the archive is cut short or damaged; '
                      'fetch it again') from None


def _field(batch: dict, key: str, path: str):
  if key not in batch:
    raise UserError(f'{path!r} has no {key!r} entry (it has {", ".join(map(str, batch))}): not a '
                    'CIFAR batch of this dataset (CIFAR-10 and CIFAR-100 name their labels '
                    "'labels' and 'fine_labels' / 'coarse_labels')")
  return batch[key]


def load_cifar(path: str, name: str, split: str, labels_kind: str = 'fine') -> Arrays:
  """CIFAR-10 / CIFAR-100 from its pickle folder or .tar.gz.

  labels_kind (CIFAR-100): 'fine' (100 classes) or 'coarse' (20 superclasses).
  """
  _, _, train, test, meta_name, meta_key, label_key = CIFAR[name]
  if name == 'cifar100':
    if labels_kind not in ('fine', 'coarse'):
      raise UserError(f"data.cifar100_labels={labels_kind!r}: use 'fine' (100 classes) or "
                      "'coarse' (20 superclasses)")
    meta_key, label_key = (k.format(labels=labels_kind) for k in (meta_key, label_key))
  members = _Members(path)
  raw, where = members.read(meta_name)
  names = [n.decode('latin1') if isinstance(n, bytes) else str(n)
           for n in _field(parse_pickle(raw, where), meta_key, where)]
  images, labels = [], []
  for member in train if split == 'train' else test:
    raw, where = members.read(member)
    batch = parse_pickle(raw, where)
    data = np.asarray(_field(batch, 'data', where))
    batch_labels = np.asarray(_field(batch, label_key, where)).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
      raise UserError(f'{where!r}: data is {data.dtype} of shape {data.shape}, where a CIFAR '
                      'batch holds uint8 rows of 3,072 bytes (32x32, channel-planar RGB)')
    if len(data) != len(batch_labels):
      raise UserError(f'{where!r} holds {len(data):,} images but {len(batch_labels):,} labels')
    images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    labels.append(batch_labels.astype(np.int64))
  labels = np.concatenate(labels)
  return Arrays(np.ascontiguousarray(np.concatenate(images)), labels,
                names_for(labels, names, path), path)


def find_cifar(path: str, name: str) -> Optional[str]:
  """The CIFAR folder or archive at or directly under `path` (Keras' and torchvision's roots)."""
  folder, archive = CIFAR[name][:2]
  first_member = CIFAR[name][2][0]
  if os.path.isfile(path) and path.endswith(('.tar.gz', '.tgz', '.tar')):
    return path
  candidates = [path, os.path.join(path, folder),
                # Keras 3 unpacks into <name>_extracted/<folder>.
                os.path.join(path, folder + '_extracted', folder), os.path.join(path, archive),
                os.path.join(path, folder + '.tar.gz')]
  for candidate in candidates:
    if os.path.isfile(os.path.join(candidate, first_member)) or (
        candidate.endswith('.tar.gz') and os.path.isfile(candidate)):
      return candidate
  return None


# ---- Keras' mnist.npz ------------------------------------------------------------

KERAS_NPZ_KEYS = {'train': ('x_train', 'y_train'), 'test': ('x_test', 'y_test')}


def load_keras_npz(path: str, split: str, class_names: Sequence[str]) -> Arrays:
  """keras.datasets.mnist's cache file: x_train [N, 28, 28] uint8, y_train, x_test, y_test."""
  x_key, y_key = KERAS_NPZ_KEYS[split]
  try:
    with np.load(path, allow_pickle=False) as z:
      missing = [k for k in (x_key, y_key) if k not in z.files]
      if missing:
        raise UserError(f'{path!r} has no {" or ".join(missing)} (it has {", ".join(z.files)}): '
                        "Keras' mnist.npz holds x_train, y_train, x_test, y_test; for another "
                        'npz use --config.data.name=arrays')
      images, labels = z[x_key], z[y_key].reshape(-1)
  except UserError:
    raise
  except Exception as e:  # pylint: disable=broad-except  (zipfile / numpy errors of a bad file)
    raise UserError(f'{path!r} is not a readable .npz ({type(e).__name__}: {e}): fetch it '
                    'again') from None
  if images.dtype != np.uint8 or images.ndim not in (3, 4):
    raise UserError(f'{path!r}: {x_key} is {images.dtype} {images.shape}, not uint8 [N, H, W]')
  if len(images) != len(labels):
    raise UserError(f'{path!r} holds {len(images):,} images ({x_key}) but {len(labels):,} '
                    f'labels ({y_key})')
  images = images[..., None] if images.ndim == 3 else images
  labels = labels.astype(np.int64)
  return Arrays(images, labels, names_for(labels, class_names, path), path)
