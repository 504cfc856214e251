"""Datasets as uint8 NHWC arrays, a seeded stratified validation split, epoch order.

Sources (config.data.name, registered in DATASETS):
  fashion_mnist, mnist, kmnist,  the official files (idx, CIFAR pickles, Keras' mnist.npz:
  cifar10, cifar100, idx         cnnlab.official_datasets), else tensorflow-datasets
  image_folder                   <dir>/<class>/*.{jpg,jpeg,png}, decoded once and cached
  arrays                         a .npz / .npy holding images and labels

Every source returns the same `Dataset`: small datasets fit in memory as uint8,
which is what lets the train loop keep them on the accelerator and gather
batches by index there. Read with labelled=False (cnnlab.predict), a source
returns the images and their ids only: a folder of images without class
sub-folders, an arrays file without labels. A bare path (cnnlab.evaluate's
--data_dir, cnnlab.predict's --input, data.val_dir) gets its source from one
rule, `source_for_path`, which says what it decided and why.
"""
import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import re
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import jax
import ml_collections
import numpy as np
from PIL import Image

from cnnlab import dataset_files
from cnnlab import official_datasets
from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry

DATASETS = Registry('dataset', 'data.name')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
# Keys an arrays file may use, most specific first (seed 003 uses features/target).
IMAGE_KEYS = ('images', 'image', 'x', 'X', 'features', 'data')
LABEL_KEYS = ('labels', 'label', 'y', 'Y', 'target', 'targets')
ID_KEYS = ('id', 'ids', 'Id', 'ID')
NO_LABEL = -1  # the label of every image read with labelled=False


@dataclasses.dataclass
class Dataset:
  """Images, integer labels 0..K-1, and what those labels mean.

  Read with labelled=False: every label is NO_LABEL, class_names and
  label_values are empty and ids are always set (row numbers where the
  source has none).
  """
  images: np.ndarray  # uint8 [N, H, W, C]
  labels: np.ndarray  # int32 [N], 0..K-1 (NO_LABEL: unlabelled)
  class_names: List[str]  # name of class k, for reports
  # The original label of class k (an arrays file's 1..5, a folder's name):
  # evaluation and predictions report these.
  label_values: List[Any]
  ids: Optional[np.ndarray] = None  # per-image ids (file names) where known
  # Files left out as corrupt (data.skip_corrupt=True), relative to the folder:
  # recorded in the run's meta.json so a skip is never silent.
  skipped: List[str] = dataclasses.field(default_factory=list)

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def image_shape(self) -> Tuple[int, int, int]:
    return tuple(self.images.shape[1:])

  def subset(self, indices: np.ndarray) -> 'Dataset':
    return dataclasses.replace(
        self, images=self.images[indices], labels=self.labels[indices],
        ids=None if self.ids is None else self.ids[indices])


def without_labels(dataset: Dataset) -> Dataset:
  """`dataset`'s images and ids (row numbers where it has none), its labels dropped."""
  n = len(dataset.images)
  return dataclasses.replace(
      dataset, labels=np.full(n, NO_LABEL, np.int32), class_names=[], label_values=[],
      ids=np.arange(n) if dataset.ids is None else dataset.ids)


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
  """uint8 [N,H,W,C] -> [N,H,W,channels]: gray<->RGB, RGBA drops alpha."""
  have = images.shape[-1]
  if channels in (0, have):
    return images
  if channels == 1:
    rgb = images[..., :3].astype(np.float32)
    # ITU-R 601-2 luma, as PIL's convert('L').
    gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.round(gray)[..., None].astype(np.uint8)
  if channels == 3:
    return images[..., :3] if have >= 3 else np.repeat(images, 3, axis=-1)
  raise UserError(f'data.channels={channels} is not supported: use 1 (grayscale), 3 (RGB) or 0 (infer)')


# ---- tensorflow-datasets ---------------------------------------------------------

def load_tfds(name: str, data_config: ml_collections.ConfigDict, split: str) -> Dataset:
  """A whole tfds split as numpy arrays (downloads on first use, then cached by tfds)."""
  # Here, not at the top: tensorflow_datasets imports TensorFlow (seconds), and
  # only a tfds source needs it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    ds, info = tfds.load(name, split=split, as_supervised=True, with_info=True,
                         data_dir=data_config.dir or None)
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(
        f'could not load tfds dataset {name!r} split {split!r}: {e}\n'
        'tfds downloads it on first use (needs internet) into data.dir or '
        '~/tensorflow_datasets; offline, use --config.data.name=image_folder or arrays.') from e
  # Batches of 10k rather than batch_size=-1, which aborts inside TensorFlow
  # on datasets of unknown cardinality (seen with tfds.testing.mock_data).
  batches = list(tfds.as_numpy(ds.batch(10_000)))
  images = np.concatenate([b[0] for b in batches])
  labels = np.concatenate([b[1] for b in batches])
  names = list(info.features['label'].names)
  images = to_channels(images.astype(np.uint8), data_config.channels)
  return Dataset(images, labels.astype(np.int32), names, names)


# The official sources tfds also has (under the same names): data.val_split names their splits.
TFDS_NAMES = tuple(n for n, source in official_datasets.SOURCES.items() if source.tfds)


def load_official(name: str, data_config: ml_collections.ConfigDict, split: str,
                  labelled: bool = True) -> Dataset:
  """`name`'s official files (data.dir, or where Keras and Debian put them), else tfds.

  tfds is asked when its data_dir (data.dir, else its default) holds `name`
  already, or with data.download=True (it then downloads and prepares it).
  Finding nothing is an error listing the places looked and how to get the data.
  labelled=False: the images with their row numbers as ids.
  """
  dataset = _load_official(name, data_config, split)
  return dataset if labelled else without_labels(dataset)


def _load_official(name: str, data_config: ml_collections.ConfigDict, split: str) -> Dataset:
  found, places = official_datasets.locate(name, data_config.dir)
  if found:
    kind, path = found
    arrays = official_datasets.read(name, kind, path, 'test' if split == 'test' else 'train',
                                    data_config.get('cifar100_labels', 'fine'))
    logging.info('Read %s %s (%d images) from %s', name, split, len(arrays.labels),
                 arrays.source)
    images = to_channels(arrays.images, data_config.channels)
    return Dataset(images, arrays.labels.astype(np.int32), arrays.class_names,
                   list(arrays.class_names))
  if not official_datasets.SOURCES[name].tfds:
    raise official_datasets.not_found(name, places)
  tfds_dir = os.path.join(data_config.dir or tfds_data_dir(), name)
  if not (data_config.get('download', False) or os.path.isdir(tfds_dir)):
    raise official_datasets.not_found(
        name, places, f'not prepared in {tfds_dir} (--config.data.download=True lets tfds '
        'download and prepare it)')
  try:
    return load_tfds(name, data_config, split)
  except UserError as e:
    raise official_datasets.not_found(name, places, str(e).split('\n')[0]) from None


def tfds_data_dir() -> str:
  """tfds' default data_dir ($TFDS_DATA_DIR, else ~/tensorflow_datasets)."""
  return os.environ.get('TFDS_DATA_DIR') or os.path.join(os.path.expanduser('~'),
                                                         'tensorflow_datasets')


for _name in official_datasets.SOURCES:
  DATASETS.add(_name, lambda data_config, split, labelled=True, _n=_name: load_official(
      _n, data_config, split, labelled))


def has_official_test(name: str) -> bool:
  """Whether the source `name` has its own test split (the files' t10k / test_batch)."""
  return name in official_datasets.SOURCES


def keeps_own_test(data_config: ml_collections.ConfigDict) -> bool:
  """Whether the source's official test split is the run's test split (not its val split)."""
  return has_official_test(data_config.name) and data_config.get('val_split', '') != 'test'


def uses_official_test(data_config: ml_collections.ConfigDict) -> bool:
  """Whether the run's test part is its source's official test split (and is read)."""
  return keeps_own_test(data_config) and data_config.get('official_test', True)


# ---- image folder ----------------------------------------------------------------

def list_image_folder(root: str) -> Tuple[List[str], List[Tuple[str, int]]]:
  """Class names (sorted sub-folders) and (path, label) for every image."""
  if not os.path.isdir(root):
    raise UserError(
        f'data directory {root!r} does not exist: pass --config.data.dir=<folder '
        'with one sub-folder of images per class> (e.g. ../shared/datasets/cifar10/train)')
  classes = sorted(d for d in os.listdir(root)
                   if not d.startswith('.') and os.path.isdir(os.path.join(root, d)))
  if not classes:
    raise UserError(
        f'{root!r} has no class sub-folders: an image folder is laid out as '
        f'{root}/<class name>/<image>.jpg; move the images into one folder per class')
  files = []
  for label, name in enumerate(classes):
    folder = os.path.join(root, name)
    images = sorted(f for f in os.listdir(folder)
                    if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.'))
    if not images:
      raise UserError(
          f'class folder {folder!r} holds no {"/".join(IMAGE_EXTENSIONS)} images: '
          'add images to it or remove the folder')
    files += [(os.path.join(folder, f), label) for f in images]
  return classes, files


def _folder_fingerprint(root: str, files: Sequence[Tuple[str, int]], data_config) -> str:
  """Changes when any file is added, removed, renamed or rewritten, or options change.

  Paths enter relative to the root: the same folder copied elsewhere (with its
  times, as cp -p or shutil.copytree keep them) or reached by another path
  shares one cache.
  """
  h = hashlib.sha1()
  for path, label in files:
    st = os.stat(path)
    h.update(f'{os.path.relpath(path, root)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n'
             .encode())
  h.update(_decode_options(data_config).encode())
  return h.hexdigest()[:20]


def _decode_options(data_config) -> str:
  """The options a folder's decoded arrays depend on, besides its files."""
  return f'{data_config.image_size}|{data_config.channels}|{data_config.skip_corrupt}'


def _decode(path: str, image_size: int):
  """-> (uint8 HWC array in its own mode, None) or (None, error message)."""
  try:
    with Image.open(path) as img:
      img.load()
      if img.mode not in ('L', 'RGB'):
        img = img.convert('L' if img.mode in ('1', 'I', 'I;16', 'F') else 'RGB')
      if image_size and img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.BILINEAR)
      array = np.asarray(img, dtype=np.uint8)
  except Exception as e:  # pylint: disable=broad-except
    return None, f'{type(e).__name__}: {e}'
  return (array[..., None] if array.ndim == 2 else array), None


def _log_skipped(skipped: Sequence[str], root: str) -> None:
  if skipped:
    more = f' and {len(skipped) - 10} more' if len(skipped) > 10 else ''
    shown = ', '.join(skipped[:10]) + more
    logging.warning('Skipped %d corrupt image(s) under %s (data.skip_corrupt=True): %s',
                    len(skipped), root, shown)


def cache_dir(data_config) -> str:
  return (data_config.cache_dir or os.environ.get('CNNLAB_CACHE')
          or os.path.join(os.path.expanduser('~'), '.cache', 'cnnlab'))


def _prune_cache(keep: str, root: str, options: str) -> None:
  """Deletes the caches of earlier contents of the folder at `root` decoded with `options`.

  Other folders' caches stay, and so do this folder's under other options
  (cnnlab.evaluate loads a training folder at the run's channel count).
  """
  folder = os.path.dirname(keep)
  prefix = os.path.basename(root) + '-'
  for name in os.listdir(folder):
    path = os.path.join(folder, name)
    if path == keep or not name.startswith(prefix) or not name.endswith('.npz'):
      continue
    try:
      with np.load(path) as z:
        same_root = 'root' in z.files and str(z['root']) == root
        same_options = 'options' not in z.files or str(z['options']) == options
    except (OSError, ValueError):
      continue  # another process's file being written, or not ours
    if same_root and same_options:
      os.remove(path)
      logging.info('Removed the outdated image cache %s', path)


def _natural_key(text: str):
  return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', text)]


def _id_value(text: str):
  """'0042' stays a string (leading zeros matter to ids); '42' becomes 42."""
  return int(text) if re.fullmatch(r'-?[1-9]\d*|0', text) else text


def list_images(root: str) -> Tuple[List[str], List[Any]]:
  """(paths, ids) of the images anywhere under `root`, sorted by id.

  The id of an image is its file name without the extension (`123.png` ->
  123, `0042.png` -> '0042'), or its path relative to `root` where names
  repeat (a/1.png and b/1.png, or 1.jpg and 1.png); sorted naturally (2 before 10).
  """
  if not os.path.isdir(root):
    raise UserError(f'image folder {root!r} does not exist')
  paths = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    paths += [os.path.join(folder, f) for f in files
              if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.')]
  if not paths:
    raise UserError(f'{root!r} holds no {"/".join(IMAGE_EXTENSIONS)} images')
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  if len(set(stems)) == len(stems):
    names = stems
  else:  # the same file name in two sub-folders (or a.jpg and a.png): keep them apart
    names = [os.path.relpath(p, root).replace(os.sep, '/') for p in paths]
  order = sorted(range(len(paths)), key=lambda i: _natural_key(names[i]))
  return [paths[i] for i in order], [_id_value(names[i]) for i in order]


def _decode_images(paths: Sequence[str], root: str, data_config, labelled: bool
                   ) -> Tuple[np.ndarray, List[int], List[str]]:
  """(uint8 NHWC images, the indices of `paths` they are, the skipped paths relative to root).

  Every image at data.image_size (when set), converted to data.channels (0: gray
  when all are gray, else RGB); a corrupt file is an error unless data.skip_corrupt.
  """
  with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 1)) as pool:
    decoded = list(pool.map(lambda p: _decode(p, data_config.image_size), paths, chunksize=256))
  bad = [(p, err) for p, (_, err) in zip(paths, decoded) if err]
  if bad and not data_config.skip_corrupt:
    path, err = bad[0]
    # Unlabelled images (predictions) want a row each: no skipping to suggest.
    skip = (', or pass --config.data.skip_corrupt=True to skip corrupt images' if labelled
            else '')
    raise UserError(f'cannot decode image {path!r} ({err}); {len(bad)} corrupt file(s) in all. '
                    f'Delete or replace it{skip}.')
  skipped = [os.path.relpath(p, root) for p, _ in bad]
  _log_skipped(skipped, root)
  keep = [i for i, (_, err) in enumerate(decoded) if not err]
  arrays = [decoded[i][0] for i in keep]
  sizes = {a.shape[:2] for a in arrays}
  if len(sizes) > 1:
    first = {}
    for i, a in zip(keep, arrays):
      first.setdefault(a.shape[:2], paths[i])
    examples = ', '.join(f'{h}x{w} ({p})' for (h, w), p in list(first.items())[:3])
    raise UserError(
        f'images under {root!r} have different sizes: {examples}. Pass '
        '--config.data.image_size=N to resize them all to NxN.')
  channels = data_config.channels or (1 if all(a.shape[-1] == 1 for a in arrays) else 3)
  images = np.stack([to_channels(a[None], channels)[0] for a in arrays])
  return images, keep, skipped


def load_image_folder(data_config, split: str = 'train', root: Optional[str] = None,
                      labelled: bool = True) -> Dataset:
  """Decodes <root>/<class>/* once into uint8 arrays, cached by folder content.

  labelled=False: every image anywhere under root, ids as list_images gives
  them, in that order; decoded each time (predictions read a folder once).
  """
  del split  # A folder is one split; the validation split is carved from it.
  root = os.path.abspath(root or data_config.dir)
  if not labelled:
    paths, ids = list_images(root)
    logging.info('Decoding %d images under %s...', len(paths), root)
    images, keep, skipped = _decode_images(paths, root, data_config, labelled=False)
    # object: the ids stay ints and strings (a str array would turn 3 into '3').
    return without_labels(Dataset(images, np.zeros(len(keep), np.int32), [], [],
                                  ids=np.array([ids[i] for i in keep], object), skipped=skipped))
  classes, files = list_image_folder(root)
  key = _folder_fingerprint(root, files, data_config)
  cache = os.path.join(cache_dir(data_config), f'{os.path.basename(root)}-{key}.npz')
  if os.path.exists(cache):
    with np.load(cache) as z:
      logging.info('Loaded %d decoded images from cache %s', len(z['labels']), cache)
      skipped = [str(s) for s in z['skipped']] if 'skipped' in z.files else []
      _log_skipped(skipped, root)
      return Dataset(z['images'], z['labels'], classes, classes, ids=z['ids'],
                     skipped=skipped)

  logging.info('Decoding %d images under %s (cached afterwards)...', len(files), root)
  paths = [p for p, _ in files]
  images, keep, skipped = _decode_images(paths, root, data_config, labelled=True)
  labels = np.array([files[i][1] for i in keep], np.int32)
  ids = np.array([os.path.relpath(paths[i], root) for i in keep])
  os.makedirs(os.path.dirname(cache), exist_ok=True)
  tmp = cache + f'.tmp{os.getpid()}.npz'
  np.savez(tmp, images=images, labels=labels, ids=ids, skipped=np.array(skipped, dtype=str),
           root=np.array(root), options=np.array(_decode_options(data_config)))
  os.replace(tmp, cache)  # atomic: a killed run never leaves a half cache
  _prune_cache(cache, root, _decode_options(data_config))
  return Dataset(images, labels, classes, classes, ids=ids, skipped=skipped)


DATASETS.add('image_folder', load_image_folder)


# ---- arrays files ----------------------------------------------------------------

def _pick(store, keys, what, path):
  for k in keys:
    if k in store:
      return np.asarray(store[k])
  raise UserError(f'{path!r} has no {what} array: name it one of {", ".join(keys)} '
                  f'(found: {", ".join(map(str, store.keys()))})')


def read_arrays_file(path: str, bare_images: bool = False) -> dict:
  """A .npz, or a .npy holding a dict (seed 003's features/target), as a dict.

  bare_images: a .npy of a bare array is {'images': it} (unlabelled images).
  """
  if not os.path.exists(path):
    raise UserError(f'arrays file {path!r} does not exist: pass --config.data.dir=<file.npz or .npy>')
  if path.endswith('.npz'):
    with np.load(path, allow_pickle=False) as z:
      return {k: z[k] for k in z.files}
  if path.endswith('.npy'):
    obj = np.load(path, allow_pickle=True)
    if obj.dtype == object and obj.shape == ():
      obj = obj.item()
    if isinstance(obj, dict):
      return obj
    if bare_images and isinstance(obj, np.ndarray) and obj.dtype != object:
      return {'images': obj}
    if bare_images:
      raise UserError(f'{path!r} holds neither an images array nor a dict of arrays')
    raise UserError(f'{path!r} holds a bare array; save a dict with images and labels '
                    '(np.save(path, {"images": x, "labels": y})) or use a .npz')
  raise UserError(f'{path!r} is neither .npz nor .npy')


def images_to_uint8(images: np.ndarray, data_config, path: str = '') -> np.ndarray:
  """Flat rows / NHW / NHWC, float [0,1] or [0,255] or ints -> uint8 NHWC."""
  images = np.asarray(images)
  if images.ndim == 2:  # flattened rows, e.g. 784 = 28x28x1
    n, d = images.shape
    channels = data_config.channels or (1 if int(np.sqrt(d)) ** 2 == d else 3)
    side = data_config.image_size or int(round(np.sqrt(d / channels)))
    if side * side * channels != d:
      raise UserError(f'{path!r}: cannot reshape rows of {d} values into square images; '
                      'set --config.data.image_size and --config.data.channels')
    images = images.reshape(n, side, side, channels)
  elif images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4:
    raise UserError(f'{path!r}: images must be [N,H,W,C], [N,H,W] or [N,H*W*C], got {images.shape}')
  if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
    images = images * 255.0
  return to_channels(np.clip(np.round(images), 0, 255).astype(np.uint8), data_config.channels)


def _arrays_ids(store: dict, count: int, path: str) -> Optional[np.ndarray]:
  """The file's `id` (or `ids`, `Id`, `ID`) array, one per image; None where it has none."""
  key = next((k for k in ID_KEYS if k in store), None)
  if key is None:
    return None
  ids = np.asarray(store[key]).reshape(-1)
  if len(ids) != count:
    raise UserError(f'{path!r}: {count} images but {len(ids)} ids ({key!r})')
  return ids


def load_arrays(data_config, split: str = 'train', path: Optional[str] = None,
                labelled: bool = True) -> Dataset:
  """The images and labels of a .npz / .npy (keys IMAGE_KEYS, LABEL_KEYS, ID_KEYS).

  labelled=False: the images (a .npy may be a bare array of them) and their
  ids, else the row numbers 0..N-1; labels are not read.
  """
  del split
  path = path or data_config.dir
  store = read_arrays_file(path, bare_images=not labelled)
  images = images_to_uint8(_pick(store, IMAGE_KEYS, 'images', path), data_config, path)
  ids = _arrays_ids(store, len(images), path)
  if not labelled:
    if ids is None:
      logging.info('%s has no "id" array: the ids are the row numbers 0..%d', path,
                   len(images) - 1)
    if any(k in store for k in LABEL_KEYS):
      logging.info('%s also holds labels; predictions ignore them (python -m cnnlab.evaluate '
                   '--data_dir=%s scores them)', path, path)
    return without_labels(Dataset(images, np.zeros(len(images), np.int32), [], [], ids=ids))
  raw = _pick(store, LABEL_KEYS, 'labels', path).reshape(-1)
  if len(raw) != len(images):
    raise UserError(f'{path!r}: {len(images)} images but {len(raw)} labels')
  values, labels = np.unique(raw, return_inverse=True)
  values = [v.item() if hasattr(v, 'item') else v for v in values]
  return Dataset(images, labels.astype(np.int32), [str(v) for v in values], values, ids=ids)


DATASETS.add('arrays', load_arrays)


# ---- reading a source, and which source reads a bare path ---------------------------

def load_dataset(data_config: ml_collections.ConfigDict, split: str = 'train',
                 labelled: bool = True) -> Dataset:
  """The split of the source data.name reads from data.dir.

  labelled=False: its images and ids only (see Dataset), for predictions: a
  folder of images needs no class sub-folders, an arrays file no labels.
  """
  return DATASETS.get(data_config.name)(data_config, split, labelled=labelled)


def _holds_keras_arrays(path: str) -> bool:
  """Whether the .npz holds Keras' x_train, y_train, x_test, y_test and no IMAGE_KEYS array."""
  try:
    with np.load(path, allow_pickle=False) as z:
      files = set(z.files)
  except Exception:  # pylint: disable=broad-except  (unreadable: the arrays source says why)
    return False
  keras_keys = {k for keys in dataset_files.KERAS_NPZ_KEYS.values() for k in keys}
  return keras_keys <= files and not files & set(IMAGE_KEYS)


def source_for_path(path: str, preferred: str = '') -> Tuple[str, str]:
  """(data.name, why) of the source that reads `path`, from what the path is:

    a .npz / .npy file             arrays (mnist for a .npz of Keras' x_train, y_train,
                                   x_test, y_test, which arrays cannot read)
    idx files, or a folder of them idx (fashion_mnist, mnist, kmnist: `preferred` when it is one)
    CIFAR's folder or .tar.gz      cifar10 / cifar100, by their file names
    any other folder               image_folder
  and a UserError naming the sources otherwise. `preferred` (a run's own
  data.name) keeps an idx folder's class names where it reads idx files too.
  """
  full = os.path.expanduser(path)
  extension = os.path.splitext(full)[1]
  if extension in ('.npz', '.npy'):
    if extension == '.npz' and os.path.isfile(full) and _holds_keras_arrays(full):
      return 'mnist', "it holds Keras' x_train, y_train, x_test, y_test, as mnist.npz does"
    return 'arrays', f'from its {extension} extension'
  is_idx_file = (os.path.isfile(full)
                 and dataset_files.IDX_PATTERN.match(os.path.basename(full)))
  if (is_idx_file or os.path.isdir(full)) and dataset_files.find_idx_folder(full):
    source = official_datasets.SOURCES.get(preferred)
    if source and 'idx' in source.formats:
      return preferred, f"it holds idx files, which the run's data ({preferred}) is read from"
    return 'idx', 'it holds idx files (classes 0..K-1)'
  for name, (folder, archive, *_) in dataset_files.CIFAR.items():
    if os.path.isfile(full):
      if os.path.basename(full) in (archive, folder + '.tar.gz'):
        return name, f"it is {name}'s archive {archive}"
    elif os.path.isdir(full) and dataset_files.find_cifar(full, name):
      return name, f"it holds {name}'s batches ({folder})"
  if os.path.isdir(full):
    return 'image_folder', 'it is a folder without idx files or CIFAR batches'
  missing = '' if os.path.exists(full) else ' (it does not exist)'
  raise UserError(f'cannot tell which source reads {path!r}{missing}: it is neither a folder '
                  '(of images, idx files or CIFAR batches) nor a .npz/.npy arrays file nor '
                  'CIFAR\'s .tar.gz. Pass --data_name=<one of '
                  f'{", ".join(DATASETS.names())}> to choose its source')


def choose_source(path: str, data_name: str = '', preferred: str = '') -> str:
  """data_name, or (none given) source_for_path's choice for `path`; logs which and why."""
  if data_name:
    why = 'by --data_name'
  else:
    data_name, why = source_for_path(path, preferred)
    why += '; pass --data_name to choose'
  logging.info('Reading %s as data.name=%s (%s)', path, data_name, why)
  return data_name


# ---- splits and order -------------------------------------------------------------

def stratified_split(labels: np.ndarray, fraction: float, seed: int
                     ) -> Tuple[np.ndarray, np.ndarray]:
  """Indices (rest, held_out): round(fraction * n_c) of each class c held out.

  Deterministic in `seed`; both index arrays are sorted so the split does not
  leak any order into training.
  """
  rng = np.random.default_rng(seed)
  held = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    held.append(rng.permutation(members)[:int(round(fraction * len(members)))])
  held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
  rest = np.setdiff1d(np.arange(len(labels)), held)
  return rest, held


class Splits(NamedTuple):
  """The run's data: what it trains on, what it selects on, what it reports once."""
  train: Dataset
  val: Dataset  # every decision (best checkpoint, early stopping, plateau)
  test: Dataset  # the official test split or test_fraction's part: read once, at the end


def align_classes(dataset: Dataset, label_values: Sequence[Any], class_names: Sequence[str],
                  image_shape: Tuple[int, ...], source: str, known_as: str,
                  resize_hint: str) -> Dataset:
  """`dataset` with its labels re-indexed to the classes `label_values` (matched by name).

  A subset of the classes is fine; a class not among them, or another image
  shape, is an error naming `source` and what it was matched against
  (`known_as`), with `resize_hint` as the fix for a shape mismatch.
  """
  known = [str(v) for v in label_values]
  unknown = [c for c in dataset.class_names if c not in known]
  if unknown:
    raise UserError(f'{source} has classes {unknown} that {known_as} does not '
                    f'({", ".join(known)}): it needs the same class names (folder names, or '
                    'label values of an arrays file)')
  if dataset.image_shape != tuple(image_shape):
    raise UserError(f'{source} holds {dataset.image_shape} images but {known_as} '
                    f'{tuple(image_shape)}: {resize_hint}')
  index = np.array([known.index(c) for c in dataset.class_names], np.int32)
  return dataclasses.replace(dataset, labels=index[dataset.labels],
                             class_names=list(class_names), label_values=list(label_values))


def load_val_dir(data_config: ml_collections.ConfigDict, train: Dataset) -> Dataset:
  """data.val_dir (an image folder, or a .npz / .npy arrays file) as the val split.

  Loaded like the training data (data.image_size, data.skip_corrupt, the
  cache) at the training data's channel count, labels aligned to its classes.
  """
  path = data_config.val_dir
  config = data_config.copy_and_resolve_references()
  if not os.path.exists(path):
    raise UserError(f'data.val_dir={path!r} does not exist: pass an image folder (one '
                    'sub-folder per class) or a .npz/.npy arrays file')
  config.name, why = source_for_path(path)
  if config.name not in ('arrays', 'image_folder'):
    raise UserError(f'data.val_dir={path!r} is read as {config.name} ({why}): data.val_dir '
                    'takes an image folder or an arrays file; for a tfds split use '
                    'data.val_split')
  config.dir = path
  config.channels = train.image_shape[2]
  return align_classes(DATASETS.get(config.name)(config, 'val'), train.label_values,
                       train.class_names, train.image_shape, f'data.val_dir={path!r}',
                       'the training data', 'set --config.data.image_size (and data.channels) '
                       'so both load at one size')


def test_source(data_config: ml_collections.ConfigDict) -> str:
  """What the run's test part is, in words ('' = it has none)."""
  if uses_official_test(data_config):
    return f'the official test split of {data_config.name}'
  if data_config.get('test_fraction', 0.0):
    return f'data.test_fraction={data_config.test_fraction:g} of the training data'
  return ''


def load_all_splits(config: ml_collections.ConfigDict, with_test: bool = True) -> Splits:
  """(train, val, test) from the source's training data with config.seed.

  A source with an official test split (has_official_test) keeps it, whole,
  as the test part. data.max_examples subsamples the training data first.
  Otherwise data.test_fraction of it
  (stratified, seeded by config.seed + 2, so the same images whatever the
  val settings) becomes the test part. The val split is then data.val_dir
  or (tfds) the split data.val_split when set (data.val_fraction ignored),
  else data.val_fraction of the source
  carved from what is left (fractions of the whole: 0.1 and 0.1 give seed
  003's 80/10/10). With test_fraction=0 the split is the one load_splits
  always made.
  """
  d = config.data
  val_dir, val_split = d.get('val_dir', ''), d.get('val_split', '')
  if val_split and val_dir:
    raise UserError(f'data.val_dir={val_dir!r} and data.val_split={val_split!r} are both set: '
                    'validate on one of them')
  if val_split and d.name not in TFDS_NAMES:
    raise UserError(f'data.val_split={val_split!r} names a split of a tfds dataset '
                    f'({", ".join(TFDS_NAMES)}), not of {d.name!r}: for a folder or an '
                    'arrays file, pass the validation data as data.val_dir')
  data = load_dataset(d, 'train')
  if data.num_classes < 2:
    raise UserError(
        f'the {d.name} data at {d.dir!r} has {data.num_classes} class(es) '
        f'({", ".join(map(str, data.class_names)) or "none"}): a classifier needs at least 2. '
        'An image folder needs one sub-folder per class (<dir>/<class>/*.jpg); an arrays file '
        'needs at least two distinct labels.')
  # A source with its own test split keeps it as the test part (the
  # published protocol); data.test_fraction carves one from the others.
  # (data.official_test=False leaves it unread: no test part at all.)
  has_own_test = keeps_own_test(d)
  test_fraction = 0.0 if has_own_test else d.get('test_fraction', 0.0)
  if has_own_test and d.get('test_fraction', 0.0):
    logging.info('data.test_fraction=%g is not used: %s has an official test split, which is '
                 'the test part', d.test_fraction, d.name)
  if not 0.0 <= d.val_fraction < 1.0:
    raise UserError(f'data.val_fraction={d.val_fraction} must be in [0, 1)')
  if not 0.0 <= test_fraction < 1.0:
    raise UserError(f'data.test_fraction={test_fraction} must be in [0, 1)')
  val_fraction = 0.0 if val_dir or val_split else d.val_fraction
  if val_fraction + test_fraction >= 1.0:
    raise UserError(f'data.val_fraction={val_fraction} + data.test_fraction={test_fraction} '
                    'leave nothing to train on: their sum must be below 1')
  if 0 < d.max_examples < len(data.labels):
    _, keep = stratified_split(data.labels, d.max_examples / len(data.labels), config.seed + 1)
    data = data.subset(keep)
  test = data.subset(np.zeros(0, np.int64))
  if uses_official_test(d) and with_test:
    test = align_classes(load_dataset(d, 'test'), data.label_values, data.class_names,
                         data.image_shape, f'the {d.name} test split', 'its training split',
                         'the two splits must be of one dataset')
  elif test_fraction:
    rest, held = stratified_split(data.labels, test_fraction, config.seed + 2)
    data, test = data.subset(rest), data.subset(held)
  if val_dir:
    return Splits(data, load_val_dir(d, data), test)
  if val_split:
    return Splits(data, load_dataset(d, val_split), test)
  train_idx, val_idx = stratified_split(data.labels, val_fraction / (1.0 - test_fraction),
                                        config.seed)
  return Splits(data.subset(train_idx), data.subset(val_idx), test)


def load_splits(config: ml_collections.ConfigDict) -> Tuple[Dataset, Dataset]:
  """(train, val) of load_all_splits: the test part is neither (nor read)."""
  splits = load_all_splits(config, with_test=False)
  return splits.train, splits.val


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  """Training order of epoch `epoch`: a pure function of (seed, epoch), so resumable."""
  key = jax.random.fold_in(jax.random.key(seed), epoch)
  return np.asarray(jax.random.permutation(key, n))
