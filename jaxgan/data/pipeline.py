"""Batch pipelines on grain: every batch is a pure function of (seed, step).

Each pipeline is a `grain.MapDataset` whose element `step` is this process's
slice of global batch `step`, so resume is exact with no iterator state to
save: a run restored at step N asks for element N. Record order comes from
`MapDataset.range(n).shuffle(seed).repeat()` (a new permutation every epoch);
random augmentation is a `random_map` seeded by (seed, position), so it too
depends only on where a record falls, never on who read it first. Reading
ahead is grain's: `to_iter_dataset` with `ReadOptions` (threads, prefetch
buffer), and worker processes (`mp_prefetch`) when `config.data.workers > 0`.
"""

import sys
from collections.abc import Callable, Iterator

import grain
import ml_collections
import numpy as np

from jaxgan.data import sources, toy2d
from jaxgan.errors import ConfigError

Batch = dict[str, np.ndarray]
ENDLESS = sys.maxsize  # length of a dataset indexed by step


class BatchSource:
  """`batch(step)` by random access, and `iterate(start_step)` read ahead by grain.

  Subclasses set `self.dataset`, a `grain.MapDataset` whose element `step` is
  this process's slice of global batch `step`.
  """

  dataset: grain.MapDataset

  def __init__(
    self,
    *,
    global_batch: int,
    process_index: int = 0,
    process_count: int = 1,
    num_threads: int = 2,
    prefetch: int = 4,
    workers: int = 0,
  ):
    if global_batch % process_count:
      raise ConfigError(
        f'global batch {global_batch} does not divide over {process_count} processes'
      )
    self.global_batch = global_batch
    self.local_batch = global_batch // process_count
    self.process_index = process_index
    self.process_count = process_count
    self.read_options = grain.ReadOptions(
      num_threads=max(1, num_threads), prefetch_buffer_size=max(1, prefetch)
    )
    self.workers = workers

  def batch(self, step: int) -> Batch:
    return self.dataset[step]

  def spec(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """`{key: (shape, dtype)}` of this process's batches, read from one record, not a batch."""
    raise NotImplementedError

  def local_slice(self, records: grain.MapDataset) -> grain.MapDataset:
    """Endless records -> element `step`: this process's `local_batch` records of batch `step`."""
    return records.batch(self.local_batch)[self.process_index :: self.process_count]

  def iterate(self, start_step: int = 0) -> Iterator[Batch]:
    """Batches `start_step, start_step + 1, ...`, computed ahead by grain."""
    dataset = self.dataset[start_step:].to_iter_dataset(self.read_options)
    if self.workers:
      _allow_worker_processes()
      dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=self.workers))
    return iter(dataset)


def _allow_worker_processes() -> None:
  """grain's workers read absl flags; outside an absl app (tests, notebooks) none are parsed."""
  from absl import flags

  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


class RecordBatches(BatchSource):
  """Batches of shuffled records of a `sources.Source`, reshuffled every epoch.

  Batches hold each record feature stacked: `{'image': [B, H, W, C]}`, and
  `'label': [B]` int32 where the source is labelled.
  """

  def __init__(
    self,
    source: sources.Source,
    *,
    seed: int,
    random_flip: bool = False,
    augment: Callable[[dict, np.random.Generator], dict] | None = None,
    **kw,
  ):
    super().__init__(**kw)
    if source.num_records < self.global_batch:
      raise ConfigError(
        f'{source.description} has fewer records than one batch '
        f'({self.global_batch}); lower config.train.batch_size'
      )
    self.source = source
    self.seed = seed
    self.order = grain.MapDataset.range(source.num_records).shuffle(seed=seed).repeat()
    records = self.order.map(source.__getitem__)
    if augment is None and random_flip:
      augment = crop_flip(('image',), None, flip=True)
    if augment is not None:
      records = records.random_map(augment, seed=seed)
    self.dataset = self.local_slice(records)
    self._indices = self.local_slice(self.order)
    self._records = records

  def spec(self):
    record = self._records[0]
    return {k: ((self.local_batch, *np.shape(v)), np.asarray(v).dtype) for k, v in record.items()}

  def indices(self, step: int) -> np.ndarray:
    """The record indices of this process's slice of batch `step`."""
    return self._indices[step]


class MixtureBatches(BatchSource):
  """Samples of a 2-D Gaussian mixture: fresh every batch, or from a fixed training set.

  `num_examples=0`: batch `step` is drawn from rng(seed, step). `num_examples=N`:
  the training set of PacGAN's code (`GaussianPackingMixture`): N points drawn
  once, and N tuples of `pack` points, slot j of the tuples an independent
  draw of N with replacement from the points (so pack 1 too trains on a
  bootstrap resample). The tuples are reshuffled every epoch; a batch holds
  `batch / pack` of them, each tuple's points consecutive, as `layers.pack`
  groups them.
  """

  def __init__(
    self, mixture: toy2d.Mixture, *, seed: int, num_examples: int = 0, pack: int = 1, **kw
  ):
    super().__init__(**kw)
    self.mixture = mixture
    self.seed = seed
    if not num_examples:
      self.dataset = grain.MapDataset.range(ENDLESS).map(self._draw)
      return
    if self.local_batch % pack:
      raise ConfigError(
        f'a batch of {self.local_batch} points does not split into tuples of pack={pack}'
      )
    self.tuples = toy2d.packed_training_set(
      mixture, np.random.default_rng([seed, num_examples, pack]), num_examples, pack
    )
    order = grain.MapDataset.range(num_examples).shuffle(seed=seed).repeat()
    tuples_per_batch = self.local_batch // pack
    self.order = order.batch(tuples_per_batch)[self.process_index :: self.process_count]
    self.dataset = self.order.map(self._take)

  def _take(self, indices: np.ndarray) -> Batch:
    return {'image': self.tuples[indices].reshape(-1, self.tuples.shape[-1])}

  def _draw(self, step: int, n: int | None = None) -> Batch:
    rng = np.random.default_rng([self.seed, step, self.process_index])
    return {'image': toy2d.sample(self.mixture, rng, n or self.local_batch)}

  def spec(self):
    x = self._draw(0, n=1)['image']
    return {'image': ((self.local_batch, *x.shape[1:]), x.dtype)}


RECORD_SOURCES = {
  'digits': lambda data: sources.digits(data.size, data.channels),
  'mnist5k': lambda data: sources.mnist5k(data.size, data.channels, data.get('path', '')),
  'stacked_mnist': lambda data: sources.stacked_mnist(data.get('path', '')),
  'tfds': lambda data: sources.tfds_source(
    data.name,
    data.split,
    data.size,
    data.channels,
    image_key=data.image_key,
    label_key=data.get('label_key', 'label'),
    data_dir=data.data_dir,
  ),
  'folder': lambda data: sources.folder_source(
    data.path, data.size, data.channels, skip_bad=data.get('skip_bad_files', False)
  ),
}


def loader_options(
  data: ml_collections.ConfigDict, global_batch: int, process_index: int, process_count: int
) -> dict:
  """The keyword arguments every batch source takes: batch, process slice, reading ahead."""
  return dict(
    global_batch=global_batch,
    process_index=process_index,
    process_count=process_count,
    num_threads=data.num_threads,
    prefetch=data.prefetch,
    workers=data.get('workers', 0),
  )


def create_batches(
  data: ml_collections.ConfigDict,
  *,
  global_batch: int,
  seed: int,
  process_index: int = 0,
  process_count: int = 1,
  pack: int = 1,
) -> BatchSource:
  """The batch source described by `config.data`.

  `pack`: the tuple size of a fixed 2-D training set (`MixtureBatches`), D's packing.
  `data.num_examples > 0`: images of that many records only (`sources.subset`); 2-D
  points from a fixed set of that many.

  Raises:
    ConfigError: unknown source.
    DataError: missing, empty or unreadable data.
  """
  kw = loader_options(data, global_batch, process_index, process_count)
  if data.source == 'toy2d':
    return MixtureBatches(
      toy2d.get_mixture(data.name),
      seed=seed,
      num_examples=data.get('num_examples', 0),
      pack=pack,
      **kw,
    )
  if data.source not in RECORD_SOURCES:
    known = ', '.join(sorted([*RECORD_SOURCES, 'toy2d']))
    raise ConfigError(f'unknown config.data.source {data.source!r}; known: {known}')
  source = RECORD_SOURCES[data.source](data)
  if data.get('num_examples', 0):
    source = sources.subset(source, data.num_examples)
  return RecordBatches(source, seed=seed, random_flip=data.get('random_flip', False), **kw)


def crop_flip(keys: tuple[str, ...], size: int | None, flip: bool):
  """A record augmentation: one random `size x size` crop (and maybe a mirror) shared by `keys`.

  The reference pix2pix/CycleGAN jitter (load at 286, crop 256); paired
  images get the same crop and flip, so A and B stay aligned. `size=None`:
  no crop, only the flip (`config.data.random_flip` of the GAN game).
  """

  def augment(record: dict, rng: np.random.Generator) -> dict:
    h, w = record[keys[0]].shape[:2]
    top, left = (
      (0, 0) if size is None else (rng.integers(0, h - size + 1), rng.integers(0, w - size + 1))
    )
    bottom, right = (h, w) if size is None else (top + size, left + size)
    mirror = flip and rng.random() < 0.5
    out = dict(record)
    for k in keys:
      crop = record[k][top:bottom, left:right]
      out[k] = np.ascontiguousarray(crop[:, ::-1] if mirror else crop)
    return out

  return augment


class UnpairedBatches(BatchSource):
  """`{'a', 'b'}` batches of two independently shuffled sources, each with crop/flip jitter."""

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
    jitter = crop_flip(('image',), crop_size, random_flip)
    self.a = RecordBatches(source_a, seed=seed, augment=jitter, **kw)
    self.b = RecordBatches(source_b, seed=seed + 1, augment=jitter, **kw)  # independent orders
    both = grain.experimental.ZipMapDataset(parents=[self.a.dataset, self.b.dataset])
    self.dataset = both.map(lambda ab: {'a': ab[0]['image'], 'b': ab[1]['image']})

  def spec(self):
    return {'a': self.a.spec()['image'], 'b': self.b.spec()['image']}


class PairedBatches(RecordBatches):
  """`{'a', 'b'}` batches of paired records, each pair cropped and flipped together."""

  def __init__(
    self,
    source: sources.Source,
    *,
    seed: int,
    crop_size: int,
    random_flip: bool = False,
    **kw,
  ):
    super().__init__(source, seed=seed, augment=crop_flip(('a', 'b'), crop_size, random_flip), **kw)
