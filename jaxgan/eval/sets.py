"""The sets an FID compares, and measuring them: folders, TFDS splits, a workdir's samples, arrays.

`open_set(spec)` names a set: an image folder, `tfds:NAME[/SPLIT]`, a jaxgan
workdir (a folder with `checkpoints/`: samples of its latest checkpoint's EMA
generator, drawn as `evaluate` draws them), a statistics or features `.npz`
(`stats.load`), or a uint8 array `[N, H, W, C]`. `measure` reads this
process's slice of an image set in chunks, decoded in threads ahead of the
network, extracts Inception features on the process's devices, and returns
the set's statistics gathered over all processes (`stats.from_features`).

Images are made RGB (as pytorch-fid and clean-fid read them). A chunk of one
size goes to the devices as uint8 and is resized there (`legacy`) or on the
host (`clean`); a chunk of mixed sizes is resized on the host to 299x299
float32 by the same arithmetic (`resize_on_host`). Besides `offline`, the only
module of `jaxgan.eval` that knows the games (a workdir's generator).
"""

import collections
import concurrent.futures
import dataclasses
import os
from collections.abc import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils
from tqdm import auto as tqdm

from jaxgan import checkpoint, images, seeds
from jaxgan.data import sources
from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import features, quality, stats
from jaxgan.eval.options import is_2d

DEFAULT_SAMPLES = 10_000  # a workdir's samples when neither --n nor the other set gives a count


@dataclasses.dataclass(frozen=True)
class ImageSet:
  """`size` images, `read(positions)` -> uint8 `[H, W, 3]` images (any thread may call it)."""

  spec: str
  kind: str  # 'folder' | 'tfds' | 'workdir' | 'array'
  description: str
  size: int
  read: Callable[[np.ndarray], list[np.ndarray]]


def subset(total: int, n: int, seed: int) -> np.ndarray:
  """All of `range(total)`, or `n` of them drawn with `seed`, in increasing order."""
  if n <= 0 or n >= total:
    return np.arange(total)
  return np.sort(np.random.default_rng(seed).permutation(total)[:n])


def _rgb(image: np.ndarray) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def read_image(path: str) -> np.ndarray:
  """uint8 `[H, W, 3]` of an image file; a DataError naming the file if it does not decode."""
  with sources.open_image(path) as image:
    return np.asarray(image.convert('RGB'), np.uint8)


def folder_set(path: str, n: int = 0, seed: int = 0) -> ImageSet:
  files = sources.list_images(path)  # sorted; a one-line DataError if missing or empty
  chosen = [files[i] for i in subset(len(files), n, seed)]
  of = f'{len(chosen)} of {len(files)}' if len(chosen) < len(files) else f'{len(files)}'
  return ImageSet(
    path, 'folder', f'folder {path} ({of} images)', len(chosen),
    lambda positions: [read_image(chosen[i]) for i in positions],
  )  # fmt: skip


def tfds_set(spec: str, n: int = 0, seed: int = 0) -> ImageSet:
  """`tfds:NAME[/SPLIT]` (split 'test' by default, as `--ref`): its `image` feature, as stored."""
  name, _, split = spec[len('tfds:') :].partition('/')
  split = split or 'test'
  source = sources._open_tfds(name, split, '')  # one-line errors for unknown or unprepared data
  chosen = subset(len(source), n, seed)

  def read(positions):
    out = []
    for i in positions:  # one record at a time: TFDS mock data refuses a list of indices
      record = source[int(chosen[i])]
      if 'image' not in record:
        raise DataError(f'TFDS {name!r} records have no image feature; features: {sorted(record)}')
      out.append(_rgb(record['image']))
    return out

  return ImageSet(spec, 'tfds', f'TFDS {name}:{split} ({len(chosen)} images)', len(chosen), read)


def workdir_set(path: str, n: int = 0, seed: int = 0) -> ImageSet:
  """`n` samples (`DEFAULT_SAMPLES` if 0) of the latest checkpoint's generator (EMA if kept).

  The latents are those `evaluate --seed` draws for the same count, so the samples are the same.
  """
  config, state = checkpoint.load_state(path)
  if is_2d(config):
    raise ConfigError(f'{path} is a run on 2-D points: FID compares images')
  game, size = seeds.game_of(config), n or DEFAULT_SAMPLES
  z = np.asarray(jax.random.normal(jax.random.key(seed), (size, *state.latent_shape)))
  labels = quality.balanced_labels(config, size)
  generate = quality.jitted_generate(game)

  def read(positions):
    cond = None if labels is None else labels[positions]
    out = generate(state, z[positions], use_ema=True, cond=cond)
    return [_rgb(x) for x in images.to_uint8(np.asarray(out))]

  ema = ', EMA G' if state.ema is not None else ''
  return ImageSet(
    path, 'workdir', f'workdir {path} step {int(state.step)} ({size} samples, seed {seed}{ema})',
    size, read,
  )  # fmt: skip


def array_set(x: np.ndarray, n: int = 0, seed: int = 0) -> ImageSet:
  x = features.check_images(x, 'an array set')
  chosen = subset(len(x), n, seed)
  return ImageSet(
    'array', 'array', f'array {list(x.shape)}', len(chosen),
    lambda positions: [_rgb(x[chosen[i]]) for i in positions],
  )  # fmt: skip


def is_workdir(spec) -> bool:
  return isinstance(spec, str) and os.path.isdir(os.path.join(spec, 'checkpoints'))


def open_set(spec, *, n: int = 0, seed: int = 0) -> ImageSet | stats.SetStats:
  """The set `spec` names (module docstring), with at most `n` images (0: all of them).

  `n` does not apply to a statistics file; for a workdir it is the sample count.
  """
  if isinstance(spec, np.ndarray):
    return array_set(spec, n, seed)
  spec = os.fspath(spec)
  if spec.endswith('.npz'):
    return stats.load(spec)
  if spec.startswith('tfds:'):
    return tfds_set(spec, n, seed)
  if is_workdir(spec):
    return workdir_set(spec, n, seed)
  if os.path.isdir(spec):
    return folder_set(spec, n, seed)
  raise DataError(
    f'{spec!r} is not an image folder, a .npz of statistics, tfds:NAME[/SPLIT] or a workdir'
  )


def _grid(length: int, size: int):
  src = np.arange(size, dtype=np.float32) * np.float32(length / size)
  lo = src.astype(np.int32)
  return lo, np.minimum(lo + 1, length - 1), src - lo.astype(np.float32)


def resize_legacy_host(image: np.ndarray, size: int = features.INCEPTION_SIZE) -> np.ndarray:
  """`features.resize_legacy` of one `[H, W, C]` image, in NumPy (the same float32 arithmetic)."""
  x = np.asarray(image, np.float32)
  y_lo, y_hi, dy = _grid(x.shape[0], size)
  x_lo, x_hi, dx = _grid(x.shape[1], size)
  top, bottom = x[y_lo], x[y_hi]
  dx, dy = dx[None, :, None], dy[:, None, None]
  upper = top[:, x_lo] + (top[:, x_hi] - top[:, x_lo]) * dx
  lower = bottom[:, x_lo] + (bottom[:, x_hi] - bottom[:, x_lo]) * dx
  return upper + (lower - upper) * dy


def resize_on_host(image: np.ndarray, resize: str) -> np.ndarray:
  """uint8 `[H, W, 3]` -> float32 `[299, 299, 3]` by the `legacy` or `clean` resize."""
  if resize == 'clean':
    return features.resize_clean(image[None])[0]
  return resize_legacy_host(image)


def to_batch(batch: list[np.ndarray], resize: str) -> np.ndarray:
  """What the extractor takes: uint8 `[N, H, W, 3]` for one size (legacy), else float32 at 299."""
  if resize == 'legacy' and len({im.shape for im in batch}) == 1:
    return np.stack(batch)
  return np.stack([resize_on_host(im, resize) for im in batch])


class Inception(features.Inception):
  """`features.Inception` that also takes float32 images the host already resized to 299x299."""

  def prepare(self, x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float32 and x.shape[1:] == (299, 299, 3):
      return x  # the network's resize is the identity at 299 (legacy), or absent (clean)
    return super().prepare(x)


def conditions(extractor: features.Extractor) -> dict:
  """The conditions (`stats.CONDITIONS`) of features from `extractor`."""
  described = extractor.describe()
  return {
    'network': described['features'],
    'weights': described['weights'],
    'weights_sha256': described['weights_sha256'],
    'resize': described['resize'],
  }


def measure(
  image_set: ImageSet,
  extractor: features.Extractor,
  *,
  keep_features: bool = False,
  progress: bool = True,
  workers: int = 0,
  process_index: int | None = None,
  process_count: int | None = None,
  allgather: stats.Allgather = multihost_utils.process_allgather,
) -> stats.SetStats:
  """The statistics (and features, with `keep_features`) of a set, measured over all processes.

  Each process reads its contiguous `stats.process_slice` of the set, `workers`
  chunks (0: up to 8, one per CPU) being read and resized ahead of the network.
  `process_index`, `process_count` and `allgather` default to JAX's (tests fake them).
  """
  index = jax.process_index() if process_index is None else process_index
  count = jax.process_count() if process_count is None else process_count
  if image_set.size < count:
    raise DataError(f'{image_set.description}: fewer images than the {count} processes')
  mine = np.arange(image_set.size)[stats.process_slice(image_set.size, index, count)]
  chunk, resize = extractor.batch_size, extractor.resize
  workers = workers or min(8, os.cpu_count() or 1)
  load = lambda positions: to_batch(image_set.read(positions), resize)
  starts = iter(range(0, len(mine), chunk))
  out = []
  bar = tqdm.tqdm(
    total=len(mine), desc=image_set.description, unit='img', disable=not progress or index != 0
  )
  pool = concurrent.futures.ThreadPoolExecutor(workers)
  try:
    pending = collections.deque()
    for start in starts:
      pending.append(pool.submit(load, mine[start : start + chunk]))
      if len(pending) > workers:
        break
    while pending:
      batch = pending.popleft().result()
      start = next(starts, None)
      if start is not None:
        pending.append(pool.submit(load, mine[start : start + chunk]))
      out.append(extractor(batch)['features'])
      bar.update(len(batch))
  finally:
    pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
  return stats.from_features(
    np.concatenate(out),
    image_set.size,
    conditions(extractor),
    keep_features=keep_features,
    process_count=count,
    allgather=allgather,
  )
