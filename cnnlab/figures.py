"""The figures of a run, drawn headless with matplotlib's object API.

Every function returns a `matplotlib.figure.Figure` built without pyplot, so
nothing depends on a display or on the global backend, figures are freed by
the garbage collector, and threads cannot share state by accident. `save`
writes one as PNG at `DPI`.

Image grids are drawn as ONE mosaic array (tiles upscaled by an integer
factor with nearest neighbour, so 28x28 / 32x32 pixels stay crisp) shown 1:1
in a single axes, with captions measured in pixels so they never overlap: a
100-image grid renders in a fraction of a second where 100 subplots take
seconds.
"""
import dataclasses
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import matplotlib
from matplotlib import ticker
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
import numpy as np
from PIL import Image

DPI = 100
RIGHT = '#1a7f37'  # green: correct prediction
WRONG = '#cf222e'  # red: wrong prediction
TEXT = '#24292f'
TRAIN_COLOR, VAL_COLOR, LR_COLOR = '#0969da', '#d1242f', '#6e7781'
FONT_SIZE = 8  # points, for captions
# Tiles smaller than this (pixels) are upscaled by an integer factor, larger
# ones downscaled to at most MAX_TILE so a 10x10 grid stays a sane size.
MIN_TILE, MAX_TILE = 96, 160
# Above this many classes the confusion matrices carry no numbers (unreadable).
MAX_ANNOTATED_CLASSES = 30
# Grids with a row per class show at most this many classes (a 100-row PNG helps nobody).
MAX_GRID_CLASSES = 20
CURVES_SIZE = (13.0, 4.6)  # inches


def save(fig: Figure, path: str) -> str:
  """Writes `fig` as PNG at DPI (atomically: a reader never sees half a file)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}.png'
  fig.savefig(tmp, dpi=DPI, facecolor='white')
  os.replace(tmp, path)
  return path


def pixel_size(fig: Figure) -> Tuple[int, int]:
  """(width, height) in pixels of `fig` saved by `save`."""
  w, h = fig.get_size_inches()
  return int(round(w * DPI)), int(round(h * DPI))


# ---- text measurement ---------------------------------------------------------------

_RENDERER = None


def text_width(text: str, size: float = FONT_SIZE) -> float:
  """Width in pixels of `text` at `size` points, as Agg will draw it at DPI."""
  global _RENDERER
  if _RENDERER is None:
    _RENDERER = RendererAgg(10, 10, DPI)
  width, _, _ = _RENDERER.get_text_width_height_descent(
      text, FontProperties(size=size), ismath=False)
  return width


def line_height(size: float = FONT_SIZE) -> int:
  return int(math.ceil(size * DPI / 72 * 1.35))


def shorten(name: str, limit: int = 18) -> str:
  """A class name cut to `limit` characters with an ellipsis (axis labels)."""
  name = str(name)
  return name if len(name) <= limit else name[:limit - 1] + '\u2026'


# ---- image mosaics ------------------------------------------------------------------

@dataclasses.dataclass
class Tile:
  """One image of a grid, its caption lines above it and an optional frame."""
  image: np.ndarray  # uint8 [H, W, C]
  lines: Sequence[Tuple[str, str]] = ()  # (text, colour), top to bottom
  frame: Optional[str] = None  # colour of a border around the image


@dataclasses.dataclass
class Mosaic:
  """A grid rendered to one RGB array plus the texts to draw on it (pixel coords)."""
  canvas: np.ndarray  # uint8 [H, W, 3]
  texts: List[Dict[str, Any]]

  @property
  def size(self) -> Tuple[int, int]:
    return self.canvas.shape[1], self.canvas.shape[0]


def _rgb(image: np.ndarray) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return image[..., :3].astype(np.uint8)


def display_scale(height: int, width: int) -> Tuple[int, int]:
  """Tile size in pixels for images of (height, width): integer upscale or cap."""
  side = max(height, width)
  if side < MIN_TILE:
    k = int(math.ceil(MIN_TILE / side))
    return height * k, width * k
  if side > MAX_TILE:
    f = MAX_TILE / side
    return max(1, int(round(height * f))), max(1, int(round(width * f)))
  return height, width


def _resize(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
  h, w = size
  if image.shape[:2] == (h, w):
    return image
  if h % image.shape[0] == 0 and w % image.shape[1] == 0 and h >= image.shape[0]:
    # Nearest, by repetition: every source pixel becomes an exact k x k block.
    return np.repeat(np.repeat(image, h // image.shape[0], 0), w // image.shape[1], 1)
  return np.asarray(Image.fromarray(image).resize((w, h), Image.LANCZOS))


def _hex_rgb(colour: str) -> np.ndarray:
  return (np.array(matplotlib.colors.to_rgb(colour)) * 255).round().astype(np.uint8)


def build_mosaic(rows: Sequence[Sequence[Tile]], row_labels: Optional[Sequence[str]] = None,
                 title: str = '', size: float = FONT_SIZE, min_width: int = 0) -> Mosaic:
  """Lays tiles out in rows; every cell is wide enough for its widest caption."""
  tiles = [t for row in rows for t in row]
  if not tiles:
    raise ValueError('build_mosaic needs at least one tile')
  tile_h, tile_w = display_scale(*np.asarray(tiles[0].image).shape[:2])
  frame = 3 if any(t.frame for t in tiles) else 0
  line = line_height(size)
  num_lines = max(len(t.lines) for t in tiles)
  caption_h = num_lines * line + (3 if num_lines else 0)
  widest = max([text_width(s, size) for t in tiles for s, _ in t.lines] or [0])
  gap = 16
  cell_w = int(max(tile_w + 2 * frame, math.ceil(widest) + 4)) + gap
  cell_h = caption_h + tile_h + 2 * frame + gap
  label_w = 0
  if row_labels:
    label_w = int(math.ceil(max(text_width(s, size + 1) for s in row_labels))) + 20
  title_h = int(line_height(size + 3) * 1.6) if title else 0
  ncols = max(len(r) for r in rows)
  width = max(label_w + ncols * cell_w + gap, min_width,
              int(math.ceil(text_width(title, size + 3))) + 2 * gap if title else 0)
  height = title_h + len(rows) * cell_h + gap // 2
  left = label_w + (width - label_w - ncols * cell_w) // 2  # centres a widened canvas
  canvas = np.full((height, width, 3), 255, np.uint8)
  texts = []
  if title:
    texts.append(dict(x=width / 2, y=title_h / 2, s=title, color=TEXT, size=size + 3,
                      ha='center', va='center', weight='bold'))
  for r, row in enumerate(rows):
    top = title_h + r * cell_h + gap // 2
    if row_labels:
      texts.append(dict(x=label_w - 8, y=top + caption_h + frame + tile_h / 2,
                        s=row_labels[r], color=TEXT, size=size + 1, ha='right', va='center'))
    for c, tile in enumerate(row):
      x0 = left + c * cell_w + (cell_w - tile_w) // 2
      y0 = top + caption_h + frame
      if tile.frame:
        canvas[y0 - frame:y0 + tile_h + frame, x0 - frame:x0 + tile_w + frame] = \
            _hex_rgb(tile.frame)
      canvas[y0:y0 + tile_h, x0:x0 + tile_w] = _resize(_rgb(tile.image), (tile_h, tile_w))
      for i, (s, colour) in enumerate(tile.lines):
        texts.append(dict(x=x0 + tile_w / 2, y=top + i * line + line / 2, s=s, color=colour,
                          size=size, ha='center', va='center'))
  return Mosaic(canvas, texts)


def draw_mosaic(ax, mosaic: Mosaic) -> None:
  """Shows `mosaic` in `ax` (1:1 when ax is as many pixels as the canvas)."""
  h, w = mosaic.canvas.shape[:2]
  ax.imshow(mosaic.canvas, interpolation='none' if _one_to_one(ax, mosaic) else 'nearest')
  ax.set_xlim(-0.5, w - 0.5)
  ax.set_ylim(h - 0.5, -0.5)
  ax.set_axis_off()
  for t in mosaic.texts:
    t = dict(t)
    ax.text(t.pop('x'), t.pop('y'), t.pop('s'), fontsize=t.pop('size'), **t)


def _one_to_one(ax, mosaic: Mosaic) -> bool:
  fig_w, fig_h = ax.figure.get_size_inches() * DPI
  pos = ax.get_position()
  return (round(pos.width * fig_w), round(pos.height * fig_h)) == mosaic.size


def mosaic_figure(mosaic: Mosaic) -> Figure:
  w, h = mosaic.size
  fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI)
  draw_mosaic(fig.add_axes((0, 0, 1, 1)), mosaic)
  return fig


def _chunks(items: Sequence[Any], n: int) -> List[List[Any]]:
  return [list(items[i:i + n]) for i in range(0, len(items), n)]


def _message_figure(text: str, size=(6.0, 1.5)) -> Figure:
  fig = Figure(figsize=size, dpi=DPI)
  _message(fig, text, fontsize=11)
  return fig


def _message(fig: Figure, text: str, fontsize: float = 12) -> None:
  """`text` in the middle of `fig`, inside an empty axes: IPython shows a figure
  without axes as text only, so a message alone would not appear in a notebook."""
  ax = fig.add_axes((0, 0, 1, 1))
  ax.set_axis_off()
  ax.text(0.5, 0.5, text, ha='center', va='center', fontsize=fontsize, color=TEXT,
          transform=ax.transAxes)


def misclassified_order(labels: np.ndarray, predicted: np.ndarray,
                        confidence: np.ndarray) -> np.ndarray:
  """Indices of the wrong predictions, the most confident mistakes first."""
  wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predicted))
  return wrong[np.argsort(-np.asarray(confidence)[wrong], kind='stable')]


def format_confidence(p: float) -> str:
  """'87%', and '>99.9%' rather than a rounded '100%' for a probability below 1."""
  if p >= 0.995:
    return '100%' if p >= 1.0 else ('>99.9%' if p > 0.999 else f'{p:.1%}')
  return f'{p:.0%}'


def misclassified_tiles(images, labels, predicted, confidence, class_names,
                        max_images: int) -> List[Tile]:
  """Tiles of the most confident mistakes: true class, predicted class and its probability."""
  order = misclassified_order(labels, predicted, confidence)[:max_images]
  return [Tile(images[i],
               [(f'true: {class_names[labels[i]]}', TEXT),
                (f'pred: {class_names[predicted[i]]} {format_confidence(confidence[i])}',
                 WRONG)],
               frame=WRONG) for i in order]


def misclassified_figure(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                         confidence: np.ndarray, class_names: Sequence[str],
                         max_images: int = 40, ncols: int = 10) -> Figure:
  """The most confident mistakes, each captioned with its true and predicted class.

  Args:
    images: uint8 [N, H, W, C].
    labels, predicted: int [N] class indices.
    confidence: [N] probability of the predicted class.
    class_names: name of each class index.
    max_images: at most this many images.
    ncols: images per row.
  """
  labels, predicted = np.asarray(labels), np.asarray(predicted)
  tiles = misclassified_tiles(images, labels, predicted, np.asarray(confidence), class_names,
                              max_images)
  wrong = int(np.sum(labels != predicted))
  if not tiles:
    return _message_figure(f'No misclassified images among {len(labels)}.')
  title = (f'Misclassified: {wrong} of {len(labels)} images, the {len(tiles)} most '
           'confident mistakes' if wrong > len(tiles) else
           f'Misclassified: {wrong} of {len(labels)} images')
  return mosaic_figure(build_mosaic(_chunks(tiles, ncols), title=title))


def per_class_indices(labels: np.ndarray, num_classes: int, per_class: int,
                      seed: int = 0) -> List[np.ndarray]:
  """Up to `per_class` random indices of each class (seeded, in index order)."""
  rng = np.random.default_rng(seed)
  out = []
  for c in range(num_classes):
    members = np.flatnonzero(np.asarray(labels) == c)
    out.append(np.sort(rng.permutation(members)[:per_class]))
  return out


def predictions_figure(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                       class_names: Sequence[str], per_class: int = 10,
                       seed: int = 0, max_classes: int = MAX_GRID_CLASSES) -> Figure:
  """A row per true class: `per_class` random images, "computer: X / human: Y".

  With more than `max_classes` classes only the first `max_classes` get a row.
  """
  labels, predicted = np.asarray(labels), np.asarray(predicted)
  rows, names = [], []
  for c, idx in enumerate(per_class_indices(labels, len(class_names), per_class, seed)):
    if not len(idx) or len(rows) >= max_classes:
      continue
    rows.append([Tile(images[i],
                      [(f'computer: {class_names[predicted[i]]}',
                        RIGHT if predicted[i] == labels[i] else WRONG),
                       (f'human: {class_names[labels[i]]}', TEXT)],
                      frame=RIGHT if predicted[i] == labels[i] else WRONG) for i in idx])
    names.append(shorten(class_names[c], 24))
  if not rows:
    return _message_figure('No images to show.')
  accuracy = float(np.mean(labels == predicted)) if len(labels) else 0.0
  shown = f', first {len(rows)} of {len(class_names)} classes' if len(
      class_names) > max_classes else ''
  title = (f'Predictions, {per_class} random images per class{shown} (accuracy '
           f'{accuracy:.1%} on all {len(labels)}); green = right, red = wrong')
  return mosaic_figure(build_mosaic(rows, row_labels=names, title=title))


def samples_figure(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   per_class: int = 10, seed: int = 0, title: str = '',
                   max_classes: int = 100) -> Figure:
  """A row per class of `per_class` random images, labelled with the class and its count."""
  labels = np.asarray(labels)
  counts = np.bincount(labels, minlength=len(class_names))
  rows, names = [], []
  for c, idx in enumerate(per_class_indices(labels, len(class_names), per_class, seed)):
    if len(idx) and len(rows) < max_classes:
      rows.append([Tile(images[i]) for i in idx])
      names.append(f'{shorten(class_names[c], 24)} ({counts[c]:,})')
  if not rows:
    return _message_figure('No images to show.')
  return mosaic_figure(build_mosaic(rows, row_labels=names, title=title))


# ---- training curves ----------------------------------------------------------------

def _series(records: Sequence[Dict[str, Any]], key: str):
  pairs = [(r['epoch'], r[key]) for r in records
           if r.get(key) is not None and np.isfinite(r[key])]
  return [p[0] for p in pairs], [p[1] for p in pairs]


def draw_curves(ax_loss, ax_acc, records: Sequence[Dict[str, Any]], legend: bool = True) -> None:
  """Loss and accuracy per epoch, train vs val, with the lr on the loss panel's right axis."""
  markers = dict(marker='o', markersize=3) if len(records) <= 40 else {}
  for ax, key, label in ((ax_loss, 'loss', 'loss'), (ax_acc, 'accuracy', 'accuracy')):
    for split, colour in (('train', TRAIN_COLOR), ('val', VAL_COLOR)):
      x, y = _series(records, f'{split}_{key}')
      if x:
        ax.plot(x, y, color=colour, label=f'{split} {label}', **markers)
    ax.set_xlabel('epoch')
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  x, y = _series(records, 'val_accuracy')
  if x:
    best = int(np.argmax(y))
    # In the legend, not as an annotation: text next to the point collides with the curves.
    ax_acc.plot([x[best]], [y[best]], linestyle='none', marker='*', markersize=11,
                color=VAL_COLOR, label=f'best val {y[best]:.4f} (epoch {x[best]})')
  handles, labels = ax_loss.get_legend_handles_labels()
  x, lr = _series(records, 'lr')
  if x:
    ax_lr = ax_loss.twinx()
    # The lr at the end of each epoch; a linear axis from 0, since most schedules
    # (cosine, linear, one-cycle) end at or near 0, which a log axis cannot show.
    (line,) = ax_lr.plot(x, lr, color=LR_COLOR, linestyle='--', linewidth=1.2,
                         label='learning rate', **({'marker': '.'} if len(x) == 1 else {}))
    ax_lr.set_ylabel('learning rate', color=LR_COLOR)
    ax_lr.tick_params(axis='y', colors=LR_COLOR, labelsize=8)
    ax_lr.set_ylim(bottom=0, top=max(lr) * 1.1 if max(lr) > 0 else 1)
    ax_lr.yaxis.set_major_formatter(ticker.FormatStrFormatter('%.2g'))
    handles, labels = handles + [line], labels + ['learning rate']
  if legend and handles:
    # Above the axes, in one row: inside, the lr axis (drawn on top) crosses them.
    above = dict(fontsize=8, loc='lower left', bbox_to_anchor=(0, 1.0), frameon=False,
                 handlelength=1.8, columnspacing=1.2, borderaxespad=0.2)
    ax_loss.legend(handles, labels, ncol=len(handles), **above)
    acc_handles, acc_labels = ax_acc.get_legend_handles_labels()
    if acc_handles:
      ax_acc.legend(acc_handles, acc_labels, ncol=len(acc_handles), **above)


def curves_figure(records: Sequence[Dict[str, Any]], title: str = '') -> Figure:
  """Loss and accuracy per epoch of one run's history (metrics.jsonl records)."""
  fig = Figure(figsize=CURVES_SIZE, dpi=DPI, layout='constrained')
  if not records:
    _message(fig, 'No training history (metrics.jsonl) in this workdir.')
    return fig
  ax_loss, ax_acc = fig.subplots(1, 2)
  draw_curves(ax_loss, ax_acc, records)
  if title:
    fig.suptitle(title, fontsize=11)
  return fig


# ---- confusion matrix ---------------------------------------------------------------

def row_normalized(confusion: np.ndarray) -> np.ndarray:
  """Each row divided by its sum (the recall of row i is [i, i]); empty rows stay 0."""
  confusion = np.asarray(confusion, np.float64)
  sums = confusion.sum(axis=1, keepdims=True)
  return np.divide(confusion, sums, out=np.zeros_like(confusion), where=sums > 0)


def confusion_cell_inches(num_classes: int) -> float:
  return float(np.clip(6.0 / max(num_classes, 1), 0.12, 0.6))


def draw_confusion(ax, confusion: np.ndarray, class_names: Sequence[str],
                   normalized: bool, colorbar: bool = True, annotate: Optional[bool] = None,
                   cell_inches: Optional[float] = None) -> None:
  """One confusion matrix: rows true class, columns predicted, numbers in the cells.

  Counts are coloured on 0..max count, normalized rows on a fixed 0..1 scale
  (so two runs' figures compare by colour).
  """
  confusion = np.asarray(confusion)
  k = len(class_names)
  values = row_normalized(confusion) if normalized else confusion
  vmax = 1.0 if normalized else max(float(values.max()), 1.0)
  image = ax.imshow(values, cmap='Blues', vmin=0.0, vmax=vmax, interpolation='nearest')
  ax.set_label('confusion_normalized' if normalized else 'confusion_counts')
  annotate = k <= MAX_ANNOTATED_CLASSES if annotate is None else annotate
  if annotate:
    font = float(np.clip(confusion_cell_inches(k) * 72 * 0.33, 5, 9))
    for i in range(k):
      for j in range(k):
        v = values[i, j]
        text = (('0' if v == 0 else f'{v:.2f}') if normalized else str(int(v)))
        ax.text(j, i, text, ha='center', va='center', fontsize=font,
                color='white' if v / vmax > 0.55 else TEXT)
  names = [shorten(n) for n in class_names]
  # Label every class when the cells are at least one text line apart, else every step-th.
  cell_points = (cell_inches or confusion_cell_inches(k)) * 72
  step = max(1, int(math.ceil(11.0 / cell_points)))
  ticks = np.arange(0, k, step)
  ax.set_xticks(ticks, [names[t] for t in ticks], rotation=45, ha='right',
                rotation_mode='anchor', fontsize=8)
  ax.set_yticks(ticks, [names[t] for t in ticks], fontsize=8)
  ax.set_xlabel('predicted class')
  ax.set_ylabel('true class')
  total = int(confusion.sum())
  ax.set_title('Row-normalized (recall on the diagonal)' if normalized
               else f'Counts ({total:,} images)', fontsize=10)
  ax.set_xticks(np.arange(-0.5, k, 1), minor=True)
  ax.set_yticks(np.arange(-0.5, k, 1), minor=True)
  ax.grid(which='minor', color='white', linewidth=0.6 if k <= 50 else 0)
  ax.tick_params(which='minor', length=0)
  if colorbar:
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03,
                       label='fraction of the true class' if normalized else 'images')


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str],
                     title: str = '') -> Figure:
  """Counts and row-normalized confusion matrices side by side."""
  k = len(class_names)
  side = confusion_cell_inches(k) * k
  label_room = 0.08 * max(len(shorten(n)) for n in class_names) + 1.0
  fig = Figure(figsize=(2 * (side + label_room) + 2.0, side + label_room + 0.9), dpi=DPI,
               layout='constrained')
  ax_counts, ax_norm = fig.subplots(1, 2)
  draw_confusion(ax_counts, confusion, class_names, normalized=False)
  draw_confusion(ax_norm, confusion, class_names, normalized=True)
  accuracy = np.trace(np.asarray(confusion)) / max(np.sum(confusion), 1)
  fig.suptitle((title + ': ' if title else '') + f'confusion matrix, accuracy {accuracy:.2%}',
               fontsize=11)
  return fig


# ---- the dashboard ------------------------------------------------------------------

def dashboard_figure(records: Sequence[Dict[str, Any]], confusion: np.ndarray,
                     class_names: Sequence[str], images: np.ndarray, labels: np.ndarray,
                     predicted: np.ndarray, confidence: np.ndarray, title: str = '',
                     num_misclassified: int = 10) -> Figure:
  """Curves, the normalized confusion matrix and a row of mistakes in one figure."""
  tiles = misclassified_tiles(images, np.asarray(labels), np.asarray(predicted),
                              np.asarray(confidence), class_names, num_misclassified)
  wrong = int(np.sum(np.asarray(labels) != np.asarray(predicted)))
  mosaic = build_mosaic([tiles], title=(
      f'The {len(tiles)} most confident of {wrong} mistakes' if wrong else '')) if tiles else None
  k = len(class_names)
  top_h = max(4.6, min(confusion_cell_inches(k) * k + 1.6, 7.5))
  width = max(16.0, (mosaic.size[0] / DPI) if mosaic else 0)
  row_h = (mosaic.size[1] / DPI) if mosaic else 0.5
  title_h = 0.85
  height = title_h + top_h + row_h
  fig = Figure(figsize=(width, height), dpi=DPI)
  top = fig.add_gridspec(1, 3, left=0.05, right=0.97, wspace=0.42,
                         top=1 - title_h / height, bottom=(row_h + 0.75) / height,
                         width_ratios=(1, 1, 1.05))
  ax_loss, ax_acc, ax_conf = (fig.add_subplot(top[0, i]) for i in range(3))
  if records:
    draw_curves(ax_loss, ax_acc, records)
  else:
    for ax in (ax_loss, ax_acc):
      ax.text(0.5, 0.5, 'no training history', ha='center', va='center',
              transform=ax.transAxes, color=TEXT)
      ax.set_axis_off()
  draw_confusion(ax_conf, confusion, class_names, normalized=True, colorbar=False,
                 annotate=k <= 12, cell_inches=min(
                     top_h - 2.0, 0.3 * width - 0.08 * max(len(shorten(n)) for n in class_names)
                     - 0.5) / max(k, 1))
  if mosaic:
    w, h = mosaic.size
    # Exactly the mosaic's pixels, so captions keep the spacing they were laid out with.
    ax_row = fig.add_axes(((1 - w / (width * DPI)) / 2, 0, w / (width * DPI), h / (height * DPI)))
    draw_mosaic(ax_row, mosaic)
  else:
    fig.text(0.5, row_h / 2 / height, 'No misclassified images.', ha='center', va='center',
             color=TEXT)
  accuracy = np.trace(np.asarray(confusion)) / max(np.sum(confusion), 1)
  fig.suptitle((title + ' - ' if title else '') +
               f'accuracy {accuracy:.2%} on {int(np.sum(confusion)):,} images',
               fontsize=13, y=1 - 0.12 / height, va='top')
  return fig


# ---- comparing runs -----------------------------------------------------------------

def compare_figure(runs: Sequence[Tuple[str, Sequence[Dict[str, Any]]]],
                   table: Sequence[Sequence[str]], header: Sequence[str]) -> Figure:
  """Val accuracy and loss of several runs per epoch, plus a table of the runs.

  Args:
    runs: (name, metrics records) per run.
    table: one row of strings per run, in the order of `runs`.
    header: the column titles of `table`.
  """
  table_h = 0.3 * (len(table) + 1) + 0.3
  fig = Figure(figsize=(13.0, 4.6 + table_h), dpi=DPI, layout='constrained')
  grid = fig.add_gridspec(2, 2, height_ratios=(4.3, table_h))
  ax_acc, ax_loss = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
  colours = matplotlib.colormaps['tab10' if len(runs) <= 10 else 'tab20']
  for i, (name, records) in enumerate(runs):
    colour = colours(i % colours.N)
    markers = dict(marker='o', markersize=3) if len(records) <= 40 else {}
    for ax, key in ((ax_acc, 'val_accuracy'), (ax_loss, 'val_loss')):
      x, y = _series(records, key)
      if x:
        ax.plot(x, y, color=colour, label=name, **markers)
  for ax, label in ((ax_acc, 'val accuracy'), (ax_loss, 'val loss')):
    ax.set_title(label.capitalize())
    ax.set_xlabel('epoch')
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  handles, labels = ax_acc.get_legend_handles_labels()
  if handles:  # one legend for both panels, above them, where it hides no curve
    fig.legend(handles, labels, loc='outside upper center', ncol=min(len(handles), 6),
               fontsize=9, frameon=False)
  ax_table = fig.add_subplot(grid[1, :])
  ax_table.set_axis_off()
  cells = ax_table.table(cellText=[list(r) for r in table], colLabels=list(header),
                         loc='center', cellLoc='center')
  cells.auto_set_font_size(False)
  cells.set_fontsize(9)
  cells.auto_set_column_width(list(range(len(header))))
  for (row, _), cell in cells.get_celld().items():
    cell.set_height(1.0 / (len(table) + 1))
    if row == 0:
      cell.set_text_props(weight='bold')
      cell.set_facecolor('#eaeef2')
  for i in range(len(table)):
    cells[i + 1, 0].get_text().set_color(colours(i % colours.N))
  return fig
