"""Sample-quality metrics as pure functions of features: FID, KID, IS, PR, density/coverage.

Also the mode metrics of labelled data (class coverage) and the memorisation
score. Inputs are `[N, F]` feature arrays (any extractor of
`jaxgan.features`); the matrix maths runs in float64 NumPy, the k-NN
distances in chunks with JAX. None of these functions knows a network, so
each is tested on data with a known answer.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(500, 4))
>>> round(fid(x, x), 6)
0.0
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Stats:
  """Mean and covariance of features (the FID statistics), float64.

  `factor` (`[N, F]`, `sigma == factor.T @ factor`) is kept for fewer samples
  than features: FID then works in the N-dimensional space the samples span
  instead of decomposing F x F matrices. None for statistics loaded from a file.
  """

  mu: np.ndarray
  sigma: np.ndarray
  n: int
  factor: np.ndarray | None = None


def stats(features: np.ndarray) -> Stats:
  """FID statistics of `[N, F]` features (covariance with N - 1, as numpy.cov and pytorch-fid)."""
  x = np.asarray(features, np.float64)
  if x.ndim != 2 or len(x) < 2:
    raise ValueError(f'stats need [N >= 2, F] features; got {list(x.shape)}')
  mu = x.mean(0)
  factor = (x - mu) / np.sqrt(len(x) - 1) if len(x) < x.shape[1] else None
  return Stats(mu, np.cov(x, rowvar=False), len(x), factor)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
  """Tr((S1 S2)^(1/2)) of two covariance matrices, real and finite for any rank.

  The eigenvalues of S1 S2 are those of the symmetric PSD matrix
  S1^(1/2) S2 S1^(1/2); their square roots are summed after clipping the
  round-off negatives to 0. No complex `sqrtm` (the NaN/complex FID of
  rank-deficient covariances: pytorch-fid#13/#29/#100) and no eps offset.
  """
  root = _psd_sqrt(np.asarray(sigma1, np.float64))
  middle = root @ np.asarray(sigma2, np.float64) @ root
  values = np.linalg.eigvalsh((middle + middle.T) / 2)
  return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def trace_sqrt_product_low_rank(sigma: np.ndarray, factor: np.ndarray) -> float:
  """Tr((S B^T B)^(1/2)) for a covariance `B^T B` given by its `[N, F]` factor B.

  The nonzero eigenvalues of S B^T B are those of the N x N symmetric PSD
  matrix B S B^T: the same value as `trace_sqrt_product(sigma, factor.T @
  factor)`, at O(N F^2) instead of two F x F eigendecompositions (2,048-d
  Inception features of a few hundred samples: milliseconds instead of seconds).
  """
  b = np.asarray(factor, np.float64)
  middle = b @ np.asarray(sigma, np.float64) @ b.T
  values = np.linalg.eigvalsh((middle + middle.T) / 2)
  return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def fid_from_stats(a: Stats, b: Stats) -> float:
  """Fréchet distance |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) of two Gaussians."""
  if a.mu.shape != b.mu.shape:
    raise ValueError(f'statistics of different feature sizes: {a.mu.shape} vs {b.mu.shape}')
  diff = a.mu - b.mu
  value = diff @ diff + np.trace(a.sigma) + np.trace(b.sigma)
  factors = [(s.n, s.factor, other.sigma) for s, other in ((a, b), (b, a)) if s.factor is not None]
  if factors:  # the side with fewer samples spans the smaller space
    _, factor, sigma = min(factors, key=lambda f: f[0])
    value -= 2 * trace_sqrt_product_low_rank(sigma, factor)
  else:
    value -= 2 * trace_sqrt_product(a.sigma, b.sigma)
  return float(max(value, 0.0))


def fid(real: np.ndarray, fake: np.ndarray) -> float:
  """FID between two `[N, F]` feature sets."""
  return fid_from_stats(stats(real), stats(fake))


def _polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 with the kernel (x.y / d + 1)^3 (Binkowski et al. 2018)."""
  d = x.shape[1]
  kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
  m = len(x)
  off_diagonal = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))
  return float(off_diagonal(kxx) + off_diagonal(kyy) - 2 * kxy.mean())


def kid(
  real: np.ndarray,
  fake: np.ndarray,
  *,
  num_subsets: int = 100,
  subset_size: int = 1000,
  seed: int = 0,
) -> tuple[float, float]:
  """Kernel Inception Distance: mean and std of the unbiased MMD^2 over random subsets.

  `subset_size` is capped at the smaller set (torch-fidelity's defaults: 100 x 1000).
  """
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  m = min(subset_size, len(real), len(fake))
  if m < 2:
    raise ValueError(f'KID needs >= 2 samples per set; got {len(real)} and {len(fake)}')
  rng = np.random.default_rng(seed)
  values = [
    _polynomial_mmd(
      real[rng.choice(len(real), m, replace=False)], fake[rng.choice(len(fake), m, replace=False)]
    )
    for _ in range(num_subsets)
  ]
  return float(np.mean(values)), float(np.std(values))


def inception_score(logits: np.ndarray, *, splits: int = 10) -> tuple[float, float]:
  """exp(E_x KL(p(y|x) || p(y))) in `splits` consecutive splits: mean and std.

  >>> round(inception_score(np.eye(4) * 100.0, splits=1)[0], 6)  # 4 sure, distinct classes
  4.0
  """
  logits = np.asarray(logits, np.float64)
  log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
  scores = []
  for part in np.array_split(log_p, splits):
    p = np.exp(part)
    log_py = np.log(p.mean(0) + 1e-300)
    scores.append(np.exp((p * (part - log_py)).sum(1).mean()))
  return float(np.mean(scores)), float(np.std(scores))


@jax.jit
def _distance_rows(x: jax.Array, b: jax.Array) -> jax.Array:
  sq = jnp.sum(x * x, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * x @ b.T
  return jnp.sqrt(jnp.maximum(sq, 0.0))


def pairwise_distances(a: np.ndarray, b: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
  """Euclidean distances `[len(a), len(b)]`, computed in row chunks with JAX.

  One jitted function at module level: evaluations repeated during training reuse
  its compilations (one per shape) instead of tracing a new closure each call.
  """
  a, b = np.asarray(a, np.float32), jnp.asarray(b, jnp.float32)
  return np.concatenate(
    [np.asarray(_distance_rows(a[i : i + chunk], b)) for i in range(0, len(a), chunk)]
  )


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
  """Distance of each point of `x` to its k-th nearest neighbour in `x` (itself excluded)."""
  if len(x) <= k:
    raise ValueError(f'k-NN radii with k={k} need more than {k} points; got {len(x)}')
  d = pairwise_distances(x, x)
  return np.partition(d, k, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3) -> dict[str, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls.

  precision: fraction of fakes inside some real point's ball; recall: of reals
  inside some fake's ball.
  """
  real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
  d = pairwise_distances(fake, real)  # [fake, real]
  precision = np.mean((d <= real_radii[None, :]).any(axis=1))
  recall = np.mean((d <= fake_radii[:, None]).any(axis=0))
  return {'precision': float(precision), 'recall': float(recall)}


def density_coverage(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> dict[str, float]:
  """Density and coverage (Naeem et al. 2020) with k-NN balls around the real points.

  density: mean count of real balls holding each fake, over k (1 on average
  for fakes distributed as the reals); coverage: fraction of real balls
  holding at least one fake.
  """
  radii = knn_radii(real, k)
  inside = pairwise_distances(fake, real) < radii[None, :]  # [fake, real]
  return {
    'density': float(inside.sum() / (k * len(fake))),
    'coverage': float(inside.any(axis=0).mean()),
  }


def class_coverage(labels: np.ndarray, num_classes: int) -> dict[str, float]:
  """Classes generated (of `num_classes`) and KL(class histogram || uniform), in nats.

  >>> class_coverage(np.arange(10), 10)['classes']
  10.0
  """
  counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes)[:num_classes]
  p = counts / max(counts.sum(), 1)
  nonzero = p > 0
  kl = float(np.sum(p[nonzero] * np.log(p[nonzero] * num_classes)))
  return {'classes': float(nonzero.sum()), 'class_kl': max(kl, 0.0)}


def class_accuracy(labels: np.ndarray, asked: np.ndarray, num_classes: int) -> dict[str, float]:
  """How often a class-conditional G's samples are read as the class they were asked for.

  `class_accuracy` over all samples, `class_accuracy_<k>` per asked class;
  chance is `1 / num_classes`.

  >>> class_accuracy(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)['class_accuracy_0']
  0.5
  """
  labels, asked = np.asarray(labels), np.asarray(asked)
  out = {'class_accuracy': float(np.mean(labels == asked))}
  for k in range(num_classes):
    mine = asked == k
    if mine.any():
      out[f'class_accuracy_{k}'] = float(np.mean(labels[mine] == k))
  return out


def nearest(queries: np.ndarray, pool: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """Indices and distances `[Q, k]` of each query's k nearest points in `pool`, nearest first."""
  d = pairwise_distances(queries, pool)
  idx = np.argsort(d, axis=1)[:, :k]
  return idx, np.take_along_axis(d, idx, axis=1)


def memorisation(
  samples: np.ndarray, train: np.ndarray, *, percentile: float = 1.0
) -> dict[str, float]:
  """Fraction of samples closer to a training point than the `percentile`-th percentile
  of training-to-training nearest-neighbour distances.

  A generator that copies training images scores near 1; one that draws new
  images from the training distribution scores near `percentile / 100`.
  """
  threshold = float(np.percentile(knn_radii(train, 1), percentile))
  _, d = nearest(samples, train)
  return {
    'memorised': float(np.mean(d[:, 0] < threshold)),
    'nn_threshold': threshold,
    'nn_median': float(np.median(d[:, 0])),
  }
