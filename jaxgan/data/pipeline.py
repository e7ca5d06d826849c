"""Batch pipelines: every batch is a pure function of (seed, step), prefetched by threads.

Being a pure function of the step makes resume exact with no iterator state
to save: a run restored at step N asks for batch N. Record order comes from
`grain.MapDataset.range(n).shuffle(seed).repeat()`, which draws a new
permutation every epoch. With several processes, each reads only its own
slice of the global batch.
"""

import collections
import concurrent.futures
from collections.abc import Iterator

import grain
import ml_collections
import numpy as np

from jaxgan.data import sources, toy2d
from jaxgan.errors import ConfigError

Batch = dict[str, np.ndarray]


class BatchSource:
  """Base: `batch(step)` plus a threaded, prefetching `iterate(start_step)`."""

  def __init__(
    self,
    *,
    global_batch: int,
    process_index: int = 0,
    process_count: int = 1,
    num_threads: int = 2,
    prefetch: int = 4,
  ):
    if global_batch % process_count:
      raise ConfigError(
        f'global batch {global_batch} does not divide over {process_count} processes'
      )
    self.global_batch = global_batch
    self.local_batch = global_batch // process_count
    self.process_index = process_index
    self.num_threads = max(1, num_threads)
    self.prefetch = max(1, prefetch)

  def batch(self, step: int) -> Batch:
    raise NotImplementedError

  def iterate(self, start_step: int = 0) -> Iterator[Batch]:
    """Batches `start_step, start_step + 1, ...`, computed ahead on worker threads."""
    with concurrent.futures.ThreadPoolExecutor(self.num_threads) as pool:
      pending = collections.deque()
      step = start_step
      try:
        while True:
          while len(pending) < self.prefetch:
            pending.append(pool.submit(self.batch, step))
            step += 1
          yield pending.popleft().result()
      finally:
        for future in pending:
          future.cancel()


class RecordBatches(BatchSource):
  """Batches of shuffled records of a `sources.Source`, reshuffled every epoch."""

  def __init__(self, source: sources.Source, *, seed: int, random_flip: bool = False, **kw):
    super().__init__(**kw)
    if source.num_records < self.global_batch:
      raise ConfigError(
        f'{source.description} has fewer records than one batch '
        f'({self.global_batch}); lower config.train.batch_size'
      )
    self.source = source
    self.seed = seed
    self.random_flip = random_flip
    self._order = grain.MapDataset.range(source.num_records).shuffle(seed=seed).repeat()

  def indices(self, step: int) -> np.ndarray:
    start = step * self.global_batch + self.process_index * self.local_batch
    return np.array([self._order[i] for i in range(start, start + self.local_batch)])

  def batch(self, step: int) -> Batch:
    """`{'image': [B, H, W, C]}`, and `'label': [B]` int32 where the source has labels."""
    indices = self.indices(step)
    images = self.source.fetch(indices)
    labels = {} if self.source.labels is None else {'label': self.source.labels[indices]}
    if self.random_flip:
      flip = np.random.default_rng([self.seed, step, self.process_index]).random(len(images))
      images = np.where((flip < 0.5)[:, None, None, None], images[:, :, ::-1], images)
    return {'image': np.ascontiguousarray(images, np.float32), **labels}


class MixtureBatches(BatchSource):
  """Fresh samples of a 2-D Gaussian mixture; batch `step` is drawn from rng(seed, step)."""

  def __init__(self, mixture: toy2d.Mixture, *, seed: int, **kw):
    super().__init__(**kw)
    self.mixture = mixture
    self.seed = seed

  def batch(self, step: int) -> Batch:
    rng = np.random.default_rng([self.seed, step, self.process_index])
    return {'image': toy2d.sample(self.mixture, rng, self.local_batch)}


RECORD_SOURCES = {
  'digits': lambda data: sources.digits(data.size, data.channels),
  'tfds': lambda data: sources.tfds_source(
    data.name,
    data.split,
    data.size,
    data.channels,
    image_key=data.image_key,
    data_dir=data.data_dir,
  ),
  'folder': lambda data: sources.folder_source(data.path, data.size, data.channels),
}


def loader_options(
  data: ml_collections.ConfigDict, global_batch: int, process_index: int, process_count: int
) -> dict:
  """The keyword arguments every batch source takes: batch, process slice, threads."""
  return dict(
    global_batch=global_batch,
    process_index=process_index,
    process_count=process_count,
    num_threads=data.num_threads,
    prefetch=data.prefetch,
  )


def create_batches(
  data: ml_collections.ConfigDict,
  *,
  global_batch: int,
  seed: int,
  process_index: int = 0,
  process_count: int = 1,
) -> BatchSource:
  """The batch source described by `config.data`.

  Raises:
    ConfigError: unknown source.
    DataError: missing, empty or unreadable data.
  """
  kw = loader_options(data, global_batch, process_index, process_count)
  if data.source == 'toy2d':
    return MixtureBatches(toy2d.get_mixture(data.name), seed=seed, **kw)
  if data.source not in RECORD_SOURCES:
    known = ', '.join(sorted([*RECORD_SOURCES, 'toy2d']))
    raise ConfigError(f'unknown config.data.source {data.source!r}; known: {known}')
  source = RECORD_SOURCES[data.source](data)
  return RecordBatches(source, seed=seed, random_flip=data.get('random_flip', False), **kw)


def random_crop_flip(images: np.ndarray, size: int, flip: bool, rng: np.random.Generator):
  """Per image: a random `size x size` crop (the reference's 286 -> 256 jitter), maybe mirrored."""
  n, h, w = images.shape[:3]
  if (h, w) == (size, size) and not flip:
    return images
  tops, lefts = rng.integers(0, h - size + 1, n), rng.integers(0, w - size + 1, n)
  mirror = rng.random(n) < 0.5 if flip else np.zeros(n, bool)
  out = np.stack(
    [im[t : t + size, left : left + size] for im, t, left in zip(images, tops, lefts, strict=True)]
  )
  out[mirror] = out[mirror][:, :, ::-1]
  return out


class UnpairedBatches(BatchSource):
  """`{'a', 'b'}` batches of two independently shuffled sources, with crop/flip jitter."""

  def __init__(
    self,
    source_a: sources.Source,
    source_b: sources.Source,
    *,
    seed: int,
    crop_size: int,
    random_flip: bool = False,
    **kw,
  ):
    super().__init__(**kw)
    self.a = RecordBatches(source_a, seed=seed, **kw)
    self.b = RecordBatches(source_b, seed=seed + 1, **kw)  # independent orders: unpaired
    self.seed, self.crop_size, self.random_flip = seed, crop_size, random_flip

  def batch(self, step: int) -> Batch:
    rng = np.random.default_rng([self.seed, step, self.process_index, 2])
    jitter = lambda x: np.ascontiguousarray(
      random_crop_flip(x, self.crop_size, self.random_flip, rng)
    )
    return {'a': jitter(self.a.batch(step)['image']), 'b': jitter(self.b.batch(step)['image'])}


class PairedBatches(RecordBatches):
  """`{'a', 'b'}` batches of paired records (`concat(a, b)` on channels), jittered together."""

  def __init__(
    self,
    source: sources.Source,
    *,
    seed: int,
    crop_size: int,
    channels: int,
    random_flip: bool = False,
    **kw,
  ):
    super().__init__(source, seed=seed, **kw)
    self.crop_size, self.channels, self.paired_flip = crop_size, channels, random_flip

  def batch(self, step: int) -> Batch:
    rng = np.random.default_rng([self.seed, step, self.process_index, 3])
    pairs = random_crop_flip(super().batch(step)['image'], self.crop_size, self.paired_flip, rng)
    a, b = np.split(np.ascontiguousarray(pairs), 2, axis=-1)
    return {'a': np.ascontiguousarray(a), 'b': np.ascontiguousarray(b)}
