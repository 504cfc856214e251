"""On-device input transforms: an op registry, a mini-language and the Pipeline.

Where things are (`from cnnlab import augment` gives every public name below):
  ops.py            the op registry OPS, the Op base class, argument checks
  spec.py           the mini-language: parse_op, describe_ops
  pipeline.py       Pipeline (fit, train, eval) and create_pipeline
  resampling.py     scipy's fill modes and interpolation, the affine matrices,
                    apply_affine_transform, the elastic displacement field
  geometric.py      the ops flip_lr, flip_ud, translate, zoom, rotate, shear,
                    pad_crop, elastic
  pixel.py          the ops cutout, brightness, contrast, channel_shift
  normalization.py  the ops samplewise_center, samplewise_std,
                    featurewise_center, featurewise_std, zca
Importing this package imports every op module, which fills OPS.

A config string picks the transforms (big_vision `pp` style):

  --config.augment='flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)'

Ops are separated by `|`; each is a name from `OPS`, optionally with Python
literal arguments, positional or keyword (`translate(0.1, 0.2)`,
`elastic(alpha=(8, 34), sigma=4)`, `pad_crop(4, fill_mode='constant')`).

The ops (`python -m cnnlab.augment_preview --list_ops` prints their arguments):
  geometric  flip_lr, flip_ud, translate, zoom, rotate, shear, pad_crop, elastic
  pixel      cutout, brightness, contrast, channel_shift
  normalize  samplewise_center, samplewise_std, featurewise_center,
             featurewise_std, zca

Everything runs inside the jitted train step, per example (vmapped). The
randomness is one uniform [0, 1) draw of shape [batch, n] from the step key,
which each op reads its share of (one threefry call per batch: a fold_in or
split per op would multiply compile time), so augmentation is deterministic
and resumable. The semantics follow Keras' `ImageDataGenerator` and its
`apply_affine_transform`:

* Images are scaled to float32 [0, 1] first (always; with an empty spec that is
  all that happens, in training and evaluation alike).
* The affine ops (`rotate`, `translate`, `shear`, `zoom`) are composed into ONE
  matrix in Keras' order (rotation @ shift @ shear @ zoom, about the image
  centre) and resampled ONCE per image, with scipy's `affine_transform`
  semantics: order 1 (bilinear) or 0, `fill_mode` nearest | reflect | constant
  | wrap | mirror and `cval`, exactly as scipy implements each mode (set them
  on any one of the ops: `rotate(8, fill_mode='constant', cval=0.5)`; `cval`
  is on the [0, 1] scale, where Keras' is in raw pixel units). Wherever they
  are written in the spec, they act at the position of the first of them.
* `elastic` is Simard et al. (2003): two uniform(-1, 1) fields smoothed by a
  Gaussian of `sigma` (scipy `gaussian_filter`, applied here as two small
  matrix products), times `alpha`, bilinear resampling with mode reflect.
* Normalization ops (samplewise / featurewise center and std, ZCA) come last,
  as in Keras, and run in evaluation too. The featurewise ones are fitted once
  on the training split (`Pipeline.fit`, Keras' `datagen.fit`); train.py keeps
  the statistics in the checkpoint.

Deviations from Keras, on purpose: `translate(width, height)` shifts columns by
the width range and rows by the height range, as Keras documents; Keras'
legacy implementation swaps the two (visible only when the ranges differ) and
centres non-square images with the height on both axes. Fitted statistics are
computed on what the op will see at that position of the pipeline (after the
scaling and any earlier normalization op), where Keras fits on the raw images.
"""
# Importing the op modules (geometric, pixel, normalization) registers their
# ops in OPS, so any `from cnnlab import augment` finds every op.
from cnnlab.augment import geometric
from cnnlab.augment import resampling
from cnnlab.augment.geometric import (AffineOp, Elastic, FlipLR, FlipUD, PadCrop, Rotate, Shear,
                                      Translate, Zoom)
from cnnlab.augment.normalization import (STD_EPSILON, ZCA, ZCA_MAX_FEATURES, FeaturewiseCenter,
                                          FeaturewiseStd, NormalizeOp, SamplewiseCenter,
                                          SamplewiseStd)
from cnnlab.augment.ops import OPS, Op
from cnnlab.augment.pipeline import FIT_CHUNK, Pipeline, create_pipeline
from cnnlab.augment.pixel import Brightness, ChannelShift, Contrast, Cutout
from cnnlab.augment.resampling import (FILL_MODES, affine_sample, apply_affine_transform, centered,
                                       elastic_displacement, elastic_warp, gaussian_matrix,
                                       rotation_matrix, shear_matrix, shift_matrix, zoom_matrix)
from cnnlab.augment.spec import describe_ops, parse_op

# Private helpers that tests reach as augment._sample and augment._hash_bit.
_sample = resampling._sample
_hash_bit = geometric._hash_bit

# The public names of the single module cnnlab/augment.py this package replaced.
# FIT_CHUNK, STD_EPSILON and ZCA_MAX_FEATURES are read where they are defined
# (pipeline.py, normalization.py): to change one, set it there.
__all__ = [
    'OPS', 'FILL_MODES', 'STD_EPSILON', 'FIT_CHUNK', 'ZCA_MAX_FEATURES',
    'rotation_matrix', 'shift_matrix', 'shear_matrix', 'zoom_matrix', 'centered',
    'affine_sample', 'apply_affine_transform', 'gaussian_matrix', 'elastic_displacement',
    'elastic_warp',
    'Op', 'AffineOp', 'Rotate', 'Translate', 'Shear', 'Zoom', 'FlipLR', 'FlipUD', 'PadCrop',
    'Elastic', 'Cutout', 'Brightness', 'Contrast', 'ChannelShift',
    'NormalizeOp', 'SamplewiseCenter', 'SamplewiseStd', 'FeaturewiseCenter', 'FeaturewiseStd',
    'ZCA',
    'Pipeline', 'describe_ops', 'parse_op', 'create_pipeline',
]
