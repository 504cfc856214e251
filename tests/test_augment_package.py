"""cnnlab/augment/ (a package) keeps the surface of the module cnnlab/augment.py it replaced."""
import os
import subprocess
import sys

from cnnlab import augment
from conftest import REPO

# Every public name the module cnnlab/augment.py defined, in its order.
PUBLIC_NAMES = [
    'OPS', 'FILL_MODES', 'STD_EPSILON', 'FIT_CHUNK', 'ZCA_MAX_FEATURES',
    'rotation_matrix', 'shift_matrix', 'shear_matrix', 'zoom_matrix', 'centered',
    'affine_sample', 'apply_affine_transform', 'gaussian_matrix', 'elastic_displacement',
    'elastic_warp', 'Op', 'AffineOp', 'Rotate', 'Translate', 'Shear', 'Zoom', 'FlipLR', 'FlipUD',
    'PadCrop', 'Elastic', 'Cutout', 'Brightness', 'Contrast', 'ChannelShift', 'NormalizeOp',
    'SamplewiseCenter', 'SamplewiseStd', 'FeaturewiseCenter', 'FeaturewiseStd', 'ZCA',
    'Pipeline', 'describe_ops', 'parse_op', 'create_pipeline',
]
# Its private helpers that other tests use as augment._name.
PRIVATE_NAMES_IN_USE = ['_sample', '_hash_bit']
# The ops its registry held after `from cnnlab import augment`.
OP_NAMES = ['brightness', 'channel_shift', 'contrast', 'cutout', 'elastic', 'featurewise_center',
            'featurewise_std', 'flip_lr', 'flip_ud', 'pad_crop', 'rotate', 'samplewise_center',
            'samplewise_std', 'shear', 'translate', 'zca', 'zoom']


def test_every_old_name_is_reachable_and_the_registry_holds_every_op():
  missing = [n for n in PUBLIC_NAMES + PRIVATE_NAMES_IN_USE if not hasattr(augment, n)]
  assert not missing, missing
  assert sorted(augment.__all__) == sorted(PUBLIC_NAMES)
  assert augment.OPS.names() == OP_NAMES
  registered = {augment.OPS.get(name) for name in OP_NAMES}
  for name in OP_NAMES:
    assert augment.OPS.get(name).name == name
  # Every op class among the public names is registered, and only those.
  op_classes = {getattr(augment, n) for n in PUBLIC_NAMES if isinstance(getattr(augment, n), type)
                and issubclass(getattr(augment, n), augment.Op)
                and getattr(augment, n) not in (augment.Op, augment.AffineOp, augment.NormalizeOp)}
  assert op_classes == registered
  # A fresh interpreter: `from cnnlab import augment` alone fills the registry.
  code = 'from cnnlab import augment\nprint(",".join(augment.OPS.names()))'
  run = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu'),
                       capture_output=True, text=True, timeout=120)
  assert run.returncode == 0, run.stderr[-2000:]
  assert run.stdout.strip().splitlines()[-1].split(',') == OP_NAMES
