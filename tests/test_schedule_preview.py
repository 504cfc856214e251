"""cnnlab.schedule_preview: the schedule plot, one schedule or a gallery of all."""
from PIL import Image
import numpy as np

from cnnlab import schedule_preview
from cnnlab import schedules
from test_schedules import SPE, config_with


def test_preview_draws_one_or_many(tmp_path):
  config = config_with('sgdr', t0_epochs=1.0)
  one = schedule_preview.preview(config, SPE, 60, str(tmp_path / 'one.png'))
  many = schedule_preview.preview(config, SPE, 60, str(tmp_path / 'many.png'), ['cosine', 'triangular'])
  for path in (one, many):
    with Image.open(path) as img:
      assert img.format == 'PNG' and np.asarray(img.convert('L')).std() > 10, path
  assert set(schedule_preview.GALLERY) == set(schedules.SCHEDULES.names())
