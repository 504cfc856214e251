"""show_data: a row of random images per class; the grid's sampling and layout."""
import numpy as np
from PIL import Image

from cnnlab import figures
from conftest import make_image_folder, run_module


def test_per_class_indices_are_seeded_and_per_class():
  labels = np.array([0] * 30 + [1] * 4 + [2] * 12)
  picks = figures.per_class_indices(labels, 4, per_class=10, seed=3)
  assert [len(p) for p in picks] == [10, 4, 10, 0]  # a class with 4 images shows 4
  for c, p in enumerate(picks):
    assert np.all(labels[p] == c) and len(set(p)) == len(p)
  again = figures.per_class_indices(labels, 4, per_class=10, seed=3)
  assert all(np.array_equal(a, b) for a, b in zip(picks, again))
  other = figures.per_class_indices(labels, 4, per_class=10, seed=4)
  assert not np.array_equal(picks[0], other[0])


def test_tiles_are_nearest_upscaled_and_captions_fit():
  image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 16
  mosaic = figures.build_mosaic([[figures.Tile(image, [('computer: automobile', 'red')])]])
  k = figures.MIN_TILE // 4
  # Each source pixel is an exact k x k block of the canvas (nearest, no smoothing).
  canvas = mosaic.canvas[..., 0]
  ys, xs = np.nonzero(canvas != 255)
  tile = canvas[ys.min():ys.min() + 4 * k, xs.min():xs.min() + 4 * k]
  np.testing.assert_array_equal(tile, np.kron(image[..., 0], np.ones((k, k), np.uint8)))
  # The canvas is wider than the caption (captions of neighbours never overlap).
  assert mosaic.size[0] > figures.text_width('computer: automobile')


def test_show_data_cli_draws_ten_per_class(tmp_path):
  data = make_image_folder(tmp_path / 'images', classes=('cat', 'dog', 'frog'), per_class=12,
                           size=16)
  out = str(tmp_path / 'samples.png')
  result = run_module('cnnlab.show_data', '--config=configs/vgg.py',
                      f'--config.data.dir={data}',
                      f'--config.data.cache_dir={tmp_path / "cache"}', f'--out={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert '36 images 16x16x3' in result.stdout and 'frog' in result.stdout
  with Image.open(out) as img:
    size, pixels = img.size, np.asarray(img.convert('RGB'))
  # Find the dataset's own images in the PNG, nearest-upscaled by some whole
  # factor k: 10 distinct images of each class, one row per class in folder
  # order, evenly spaced (nothing here asks cnnlab.figures where they are).
  from cnnlab import input_pipeline  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  config = base.get_config()
  config.data.dir, config.data.cache_dir = str(data), str(tmp_path / 'cache')
  dataset = input_pipeline.load_dataset(config.data)
  found = {}
  for k in range(1, 9):
    for i, image in enumerate(dataset.images):
      big = np.kron(image, np.ones((k, k, 1), np.uint8))
      candidates = np.argwhere(np.all(pixels == big[0, 0], axis=-1))
      for y, x in candidates:
        if (y + 16 * k <= size[1] and x + 16 * k <= size[0]
            and np.array_equal(pixels[y:y + 16 * k, x:x + 16 * k], big)):
          found[i] = (y, x)
    if found:
      break
  assert len(found) == 30, len(found)
  rows = {}
  for i, (y, x) in found.items():
    rows.setdefault(int(dataset.labels[i]), []).append((y, x))
  assert sorted(rows) == [0, 1, 2] and all(len(r) == 10 for r in rows.values())
  tops = [rows[c][0][0] for c in (0, 1, 2)]
  assert tops == sorted(tops) and len(set(tops)) == 3  # cat, dog, frog from the top
  for c in (0, 1, 2):
    ys, xs = zip(*sorted(rows[c], key=lambda p: p[1]))
    assert len(set(ys)) == 1  # one row
    gaps = np.diff(xs)
    assert gaps.min() == gaps.max() >= 16 * k  # evenly spaced, not overlapping
  assert pixels.std() > 10
