"""notebooks/: each notebook runs top to bottom in a real Jupyter kernel, tiny.

The kernel is this interpreter (sys.executable, through a kernel spec written
for the test), so it sees the same packages and this checkout's cnnlab.
"""
import base64
import io
import json
import os
import re
import sys
import time

import nbclient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
import nbformat
from PIL import Image

from conftest import REPO, make_image_folder

KERNEL = 'cnnlab-test-python'


def kernel_manager(root):
  """A KernelManager whose kernel runs `sys.executable -m ipykernel_launcher`."""
  spec_dir = root / 'kernels' / KERNEL
  spec_dir.mkdir(parents=True)
  (spec_dir / 'kernel.json').write_text(json.dumps({
      'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
      'display_name': 'cnnlab test', 'language': 'python'}))
  specs = KernelSpecManager(kernel_dirs=[str(root / 'kernels')])
  return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def run_notebook(path, cwd, km, timeout=600):
  with open(path) as f:
    nb = nbformat.read(f, as_version=4)
  client = nbclient.NotebookClient(nb, km=km, kernel_name=KERNEL, timeout=timeout,
                                   resources={'metadata': {'path': str(cwd)}})
  client.execute()  # raises CellExecutionError, with the cell's traceback, on an error
  return nb


def outputs(nb, kind):
  return [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])
          if o.output_type == kind]


def test_seed004_tour(tmp_path, monkeypatch):
  data = make_image_folder(tmp_path / 'images', per_class=20)
  workdir = tmp_path / 'run'
  env = {'CNNLAB_TOUR_DATA_DIR': data, 'CNNLAB_TOUR_WORKDIR': str(workdir),
         'CNNLAB_TOUR_EPOCHS': '2', 'CNNLAB_TOUR_MAX_EXAMPLES': '-1',
         'CNNLAB_TOUR_MODEL': 'conv1', 'CNNLAB_TOUR_BATCH_SIZE': '8',
         'CNNLAB_CACHE': str(tmp_path / 'cache'),
         'PYTHONPATH': os.pathsep.join([REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p])}
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  (tmp_path / 'cwd').mkdir()  # not the checkout: configs are found from anywhere
  start = time.monotonic()
  nb = run_notebook(os.path.join(REPO, 'notebooks', 'seed004_tour.ipynb'), tmp_path / 'cwd',
                    kernel_manager(tmp_path))
  print(f'notebook ran in {time.monotonic() - start:.1f} s')

  assert not outputs(nb, 'error')
  text = ''.join(o.get('text', '') for o in outputs(nb, 'stream') if o.name == 'stdout')
  # The final accuracy, as evaluate saved it.
  with open(workdir / 'eval_val.json') as f:
    evaluation = json.load(f)
  match = re.search(r'final val accuracy: ([\d.]+) on (\d+) images', text)
  assert match, text[-3000:]
  assert float(match.group(1)) == round(evaluation['accuracy'], 4)
  assert int(match.group(2)) == evaluation['count'] == 6  # 10% of 60 images
  assert 'epoch 2: train accuracy' in text and 'refused: unknown config field' in text
  assert "'optimizer.lrr'" in text and 'optimizer.lr' in text
  # The figures came out inline as PNGs: curves, confusion matrix, mistakes, predictions.
  pngs = [Image.open(io.BytesIO(base64.b64decode(o['data']['image/png'])))
          for kind in ('execute_result', 'display_data') for o in outputs(nb, kind)
          if 'image/png' in o.get('data', {})]
  assert len(pngs) == 4, [o.get('data', {}).keys() for o in outputs(nb, 'execute_result')]
  assert all(p.size[0] > 300 and p.size[1] > 100 for p in pngs), [p.size for p in pngs]
  # Predictions: a row per image of the first class folder, and the CSV.
  assert '20 predictions ->' in text
  with open(workdir / 'predictions.csv') as f:
    lines = f.read().splitlines()
  assert lines[0] == 'id,label' and len(lines) == 21
  assert os.path.exists(workdir / 'report' / 'confusion_matrix.png')
