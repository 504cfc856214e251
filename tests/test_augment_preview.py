"""Test of the augmentation preview CLI (cnnlab/augment_preview.py)."""
import numpy as np


def test_preview_writes_a_grid(image_folder, tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from cnnlab import augment_preview  # pylint: disable=g-import-not-at-top
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top
  config = tiny_config(image_folder, tmp_path,
                       augment='flip_lr|rotate(20)|elastic(alpha=8, sigma=3)|featurewise_center')
  out = augment_preview.write_preview(config, str(tmp_path / 'grid.png'), num_images=3,
                                      num_draws=2, normalize=False)
  with Image.open(out) as png:
    assert png.size[0] > 100 and png.size[1] > 100
  picked = augment_preview.pick_examples(np.array([0, 0, 1, 1, 2, 2]), 4, seed=0)
  assert sorted(np.array([0, 0, 1, 1, 2, 2])[picked][:3]) == [0, 1, 2] and len(set(picked)) == 4
