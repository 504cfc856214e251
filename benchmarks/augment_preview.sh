#!/usr/bin/env bash
# Issue 3 evidence: augmentation pictures (python -m cnnlab.augment_preview), looked at by eye;
# what each shows and what was checked: benchmarks/augment_preview.md.
# Usage (repo root, the venv's python first on PATH):
#   bash benchmarks/augment_preview.sh [out_dir] [tmp_dir]
# Inputs: the shared CIFAR-10 folder (200-image stratified subset), a generated direction
# chart (an image folder) and ~100 CIFAR-10 images as Fashion-MNIST-shaped 28x28x1
# grayscale (an arrays .npz), both written to tmp_dir: there is no Fashion-MNIST offline.
set -euo pipefail
out=${1:-benchmarks/augment_preview}
tmp=${2:-/tmp/augprev}
mkdir -p "$out" "$tmp"

python - "$tmp" <<'EOF'
import os, sys
import numpy as np
from PIL import Image

tmp = sys.argv[1]
# Direction chart, 32x32 RGB: a white Gamma (vertical bar, arm pointing right at the top)
# with a red dot at the bottom left; and two vertical bars (white, thin blue).
for name in ('gamma', 'vline'):
  os.makedirs(os.path.join(tmp, 'chart', name), exist_ok=True)
for i in range(10):
  g = np.full((32, 32, 3), 40, np.uint8)
  g[5:27, 14:18] = 255
  g[5:9, 14:28] = 255
  g[24:28, 4:8] = (255, 0, 0)
  Image.fromarray(g).save(os.path.join(tmp, 'chart', 'gamma', f'{i:02d}.png'))
  v = np.full((32, 32, 3), 40, np.uint8)
  v[2:30, 14:18] = 255
  v[2:30, 4:6] = (0, 200, 255)
  Image.fromarray(v).save(os.path.join(tmp, 'chart', 'vline', f'{i:02d}.png'))
# The first 10 files of every CIFAR-10 class, grayscale (PIL 'L'), bilinear to 28x28.
src = '../shared/datasets/cifar10/train'
images, labels = [], []
for name in sorted(os.listdir(src)):
  for f in sorted(os.listdir(os.path.join(src, name)))[:10]:
    with Image.open(os.path.join(src, name, f)) as im:
      images.append(np.asarray(im.convert('L').resize((28, 28), Image.BILINEAR))[..., None])
    labels.append(name)
np.savez(os.path.join(tmp, 'cifar10_gray28.npz'), images=np.stack(images).astype(np.uint8),
         labels=np.array(labels))
EOF

P="python -m cnnlab.augment_preview"
CIFAR="--config=configs/vgg.py --config.data.max_examples=200"
CHART="--config=configs/vgg.py --config.data.dir=$tmp/chart --config.data.cache_dir=$tmp/cache"
GRAY="--config=configs/vgg.py --config.data.name=arrays --config.data.dir=$tmp/cifar10_gray28.npz"
$P $CIFAR --num_images=10 --config.augment='flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)' --out="$out/cifar10_seed003_affine.png"
$P $CIFAR --num_images=5 --config.augment='rotate(45)' --out="$out/cifar10_rotate45.png"
$P $CIFAR --num_images=5 --config.augment='shear(30)' --out="$out/cifar10_shear30.png"
$P $CIFAR --num_images=5 --config.augment='zoom(0.3)' --out="$out/cifar10_zoom0.3.png"
$P $CIFAR --num_images=5 --config.augment="translate(0.2, fill_mode='constant', cval=0.5)" --out="$out/cifar10_translate0.2_constant.png"
$P $CIFAR --num_images=5 --config.augment='pad_crop(4)|flip_lr|cutout(8)' --out="$out/cifar10_airbench_padcrop_flip_cutout.png"
$P $CHART --num_images=2 --num_draws=4 --config.augment='rotate((30, 30))' --out="$out/chart_rotate_plus30.png"
$P $CHART --num_images=2 --num_draws=4 --config.augment='shear((20, 20))' --out="$out/chart_shear_plus20.png"
$P $GRAY --num_images=10 --config.augment='elastic(alpha=34, sigma=4)' --out="$out/gray28_elastic_a34_s4.png"
$P $GRAY --num_images=6 --config.augment='flip_lr|translate(0.1)|zoom(0.2)|rotate(8)|shear(0.3)|elastic(alpha=34, sigma=4)' --out="$out/gray28_seed003_full.png"
