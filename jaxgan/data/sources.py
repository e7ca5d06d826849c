"""Record sources: the embedded digits, TFDS datasets and image folders.

Each source gives `num_records` and a `fetch(indices) -> [n, H, W, C] float32`
in [-1, 1]. Images are converted to the requested channels, resized so the
shorter side is `size` (antialiased) and centre-cropped to `size x size`.
"""

import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from jaxgan.errors import DataError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp')


class Source(NamedTuple):
  """`fetch(indices) -> [n, H, W, C]` images; `labels[i]` the class of record i, if known."""

  num_records: int
  fetch: Callable[[np.ndarray], np.ndarray]
  description: str
  labels: np.ndarray | None = None  # [num_records] int32 class ids


def to_unit_range(image: np.ndarray) -> np.ndarray:
  """uint8 [0, 255] -> float32 [-1, 1]."""
  return image.astype(np.float32) / 127.5 - 1.0


def prepare_image(image: Image.Image | np.ndarray, size: int, channels: int) -> np.ndarray:
  """Any PIL image or uint8 array -> `[size, size, channels]` uint8 (resize + centre crop)."""
  if isinstance(image, np.ndarray):
    if image.ndim == 3 and image.shape[-1] == 1:
      image = image[..., 0]
    image = Image.fromarray(image)
  if channels not in (1, 3):
    raise DataError(f'images must have 1 or 3 channels; config asks for {channels}')
  image = image.convert('L' if channels == 1 else 'RGB')
  w, h = image.size
  scale = size / min(w, h)
  new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
  if (new_w, new_h) != (w, h):
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=3.0)
  left, top = (new_w - size) // 2, (new_h - size) // 2
  image = image.crop((left, top, left + size, top + size))
  array = np.asarray(image, np.uint8)
  return array[..., None] if channels == 1 else array


def digits(size: int, channels: int) -> Source:
  """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16), upscaled to `size`."""
  from sklearn.datasets import load_digits

  bunch = load_digits()
  raw = bunch.images.astype(np.float32) / 16.0  # [N, 8, 8] in [0, 1]
  up = np.stack(
    [
      np.asarray(Image.fromarray(im, mode='F').resize((size, size), Image.Resampling.BICUBIC))
      for im in raw
    ]
  )
  images = np.clip(up, 0.0, 1.0) * 2.0 - 1.0
  images = np.repeat(images[..., None], channels, axis=-1).astype(np.float32)
  return Source(
    len(images),
    lambda idx: images[idx],
    f'sklearn digits ({len(images)} images)',
    labels=bunch.target.astype(np.int32),
  )


def _map_source(records: Sequence, load: Callable[[object], np.ndarray]) -> Callable:
  def fetch(indices: np.ndarray) -> np.ndarray:
    return np.stack([to_unit_range(load(records[int(i)])) for i in indices])

  return fetch


def _open_tfds(name: str, split: str, data_dir: str):
  import tensorflow_datasets as tfds

  if not name:
    raise DataError('config.data.name must name a TFDS dataset (e.g. mnist, cifar10, celeb_a)')
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None)
  except Exception as e:  # TFDS raises several types for "not prepared"/"unknown"
    raise DataError(
      f'cannot open TFDS dataset {name!r} split {split!r}: '
      f'{str(e).splitlines()[0]} (prepare it first: see README, "TFDS datasets")'
    ) from e
  if len(source) == 0:
    raise DataError(f'TFDS dataset {name!r} split {split!r} is empty')
  return source


def _feature(record, key: str, name: str, option: str) -> np.ndarray:
  if key not in record:
    raise DataError(
      f'TFDS {name!r} records have no {key!r} feature; '
      f'features: {sorted(record)} (set config.data.{option})'
    )
  return np.asarray(record[key])


class _Records:
  """One record at a time: some sources reject list indexing."""

  def __init__(self, source):
    self.source = source

  def __getitem__(self, i):
    return self.source[i]


def tfds_source(
  name: str, split: str, size: int, channels: int, *, image_key: str = 'image', data_dir: str = ''
) -> Source:
  """A TFDS dataset read with `tfds.data_source` (array_record; no TensorFlow needed)."""
  source = _open_tfds(name, split, data_dir)

  def load(record):
    return prepare_image(_feature(record, image_key, name, 'image_key'), size, channels)

  return Source(
    len(source), _map_source(_Records(source), load), f'TFDS {name}:{split} ({len(source)} records)'
  )


def split_side_by_side(image: Image.Image | np.ndarray, where: str) -> tuple[Image.Image, ...]:
  """The reference pix2pix layout: A on the left half of the image, B on the right."""
  if isinstance(image, np.ndarray):
    image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
  w, h = image.size
  if w < 2:
    raise DataError(f'{where} is too narrow to hold A and B side by side')
  return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, 2 * (w // 2), h))


def tfds_paired_source(
  name: str,
  split: str,
  size: int,
  channels: int,
  *,
  key_a: str = 'image',
  key_b: str = '',
  data_dir: str = '',
) -> Source:
  """Paired records from TFDS: two image features (`key_a`, `key_b`), or one A|B image.

  Each record is `concat(a, b)` on the channel axis, `[size, size, 2 * channels]`;
  each side is resized and centre-cropped on its own (e.g. div2k's lr/hr pairs).
  """
  source = _open_tfds(name, split, data_dir)

  def load(record):
    a = _feature(record, key_a, name, 'key_a')
    if key_b:
      halves = (a, _feature(record, key_b, name, 'key_b'))
    else:
      halves = split_side_by_side(a, f'a {name!r} image')
    return np.concatenate([prepare_image(half, size, channels) for half in halves], -1)

  return Source(
    len(source), _map_source(_Records(source), load), f'TFDS {name}:{split} ({len(source)} pairs)'
  )


def list_images(path: str) -> list[str]:
  """Sorted image files under `path` (recursive). Raises DataError if none."""
  if not path:
    raise DataError('config.data.path must name a folder of images')
  if not os.path.isdir(path):
    raise DataError(f'image folder {path!r} does not exist or is not a folder')
  files = sorted(
    os.path.join(root, f)
    for root, _, names in os.walk(path)
    for f in names
    if f.lower().endswith(IMAGE_EXTENSIONS)
  )
  if not files:
    raise DataError(f'image folder {path!r} holds no images ({", ".join(IMAGE_EXTENSIONS)})')
  return files


def open_image(path: str) -> Image.Image:
  try:
    image = Image.open(path)
    image.load()
  except (UnidentifiedImageError, OSError) as e:
    raise DataError(f'cannot read image {path!r}: {e} (remove or replace the file)') from e
  return image


def check_images(files: Sequence[str]) -> None:
  """Reads every image header, so a bad file fails now, naming itself, not mid-training."""
  for f in files:
    try:
      with Image.open(f) as im:
        im.verify()
    except (UnidentifiedImageError, OSError) as e:
      raise DataError(f'cannot read image {f!r}: {e} (remove or replace the file)') from e


def folder_classes(path: str, files: Sequence[str]) -> tuple[list[str], np.ndarray] | None:
  """The torchvision `ImageFolder` convention: `path/<class>/**/image`, classes sorted by name.

  Returns `(class_names, labels)` when every image sits inside a sub-folder of
  `path` and there are at least two sub-folders holding images; else None
  (an unlabelled folder: images at the top level, or a single sub-folder).
  """
  tops = [os.path.relpath(f, path).split(os.sep) for f in files]
  if any(len(parts) < 2 for parts in tops):
    return None
  names = sorted({parts[0] for parts in tops})
  if len(names) < 2:
    return None
  index = {name: i for i, name in enumerate(names)}
  return names, np.array([index[parts[0]] for parts in tops], np.int32)


def folder_source(path: str, size: int, channels: int) -> Source:
  """Every image under `path`; headers are checked up front so bad files fail early.

  A folder of class sub-folders (`folder_classes`) gives labelled records.
  """
  files = list_images(path)
  check_images(files)
  load = lambda f: prepare_image(open_image(f), size, channels)
  classes = folder_classes(path, files)
  description = f'folder {path} ({len(files)} images'
  description += f', {len(classes[0])} classes)' if classes else ')'
  labels = classes[1] if classes else None
  return Source(len(files), _map_source(files, load), description, labels=labels)


# --- unpaired image-to-image data (CycleGAN) ---

STROKE_COLOUR = np.array([1.0, 0.55, 0.15], np.float32)  # orange digits on black


def known_mapping(a: np.ndarray) -> np.ndarray:
  """The embedded dataset's ground truth B = T(A): invert and rotate the channels (R<-G<-B<-R).

  Invertible: `inverse_known_mapping(known_mapping(a)) == a`.
  """
  return -a[..., [1, 2, 0]]


def inverse_known_mapping(b: np.ndarray) -> np.ndarray:
  return -b[..., [2, 0, 1]]


def digits_unpaired(size: int, num_test: int = 197) -> dict[str, np.ndarray]:
  """Unpaired A/B domains with a known mapping, from scikit-learn's bundled digits.

  A: orange digits on black (`[-1, 1]`, 3 channels). B: `known_mapping` of
  *other* digits: train A and train B come from disjoint halves, so no pair is
  ever shown. The last `num_test` digits are held out: `test_a` and its true
  image `test_b_true = known_mapping(test_a)`.
  """
  grey = (digits(size, 1).fetch(np.arange(1797))[..., 0] + 1.0) / 2.0  # [N, size, size] in [0, 1]
  a = (grey[..., None] * STROKE_COLOUR) * 2.0 - 1.0
  train, test = a[:-num_test], a[-num_test:]
  half = len(train) // 2
  return {
    'train_a': train[:half],
    'train_b': known_mapping(train[half:]),
    'test_a': test,
    'test_b_true': known_mapping(test),
  }


def array_source(images: np.ndarray, description: str) -> Source:
  return Source(len(images), lambda idx: images[idx], description)


def unpaired_folders(path: str, size: int, channels: int) -> dict[str, Source]:
  """`path/trainA`, `path/trainB` (required) and `path/testA`, `path/testB` (if present)."""
  if not os.path.isdir(path):
    raise DataError(f'CycleGAN folder {path!r} does not exist or is not a folder')
  out = {}
  for split in ('trainA', 'trainB', 'testA', 'testB'):
    sub = os.path.join(path, split)
    if not os.path.isdir(sub):
      if split.startswith('train'):
        raise DataError(
          f'CycleGAN folder {path!r} has no {split}/ (the layout is trainA/, '
          'trainB/ and optionally testA/, testB/)'
        )
      continue
    out[split] = folder_source(sub, size, channels)
  return out


def paired_folders(path: str, size: int, channels: int) -> dict[str, Source]:
  """pix2pix's aligned layout: `path/train/` (and `test/` or `val/`) of A|B side-by-side images.

  Each record is `concat(a, b)` on the channel axis, `[size, size, 2 * channels]`.
  """
  if not os.path.isdir(path):
    raise DataError(f'pix2pix folder {path!r} does not exist or is not a folder')
  if not os.path.isdir(os.path.join(path, 'train')):
    raise DataError(
      f'pix2pix folder {path!r} has no train/ (the layout is train/ and test/ or '
      'val/, each image A and B side by side)'
    )

  def load(file: str) -> np.ndarray:
    halves = split_side_by_side(open_image(file), repr(file))
    return np.concatenate([prepare_image(half, size, channels) for half in halves], -1)

  out = {}
  for split in ('train', 'test', 'val'):
    folder = os.path.join(path, split)
    if os.path.isdir(folder) and not (split == 'val' and 'test' in out):
      listed = list_images(folder)
      check_images(listed)
      out['test' if split == 'val' else split] = Source(
        len(listed), _map_source(listed, load), f'pix2pix {folder} ({len(listed)} pairs)'
      )
  return out
