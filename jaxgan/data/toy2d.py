"""2-D Gaussian mixtures of the mode-coverage benchmarks, and their metrics.

The protocol of PacGAN (Lin et al., 2018) and VEEGAN (Srivastava et al., 2017):
ring = 8 Gaussians evenly spaced on a circle of radius 1 (angles 2 pi k / 8),
std 0.01; grid = 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05. A sample is
high quality if within 3 std of its nearest mode; a mode is captured if it is
the nearest mode of at least one high-quality sample.
"""

from typing import NamedTuple

import numpy as np


class Mixture(NamedTuple):
  """An equal-weight isotropic Gaussian mixture."""

  means: np.ndarray  # [K, 2]
  std: float


def ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
  angles = 2 * np.pi * np.arange(num_modes) / num_modes  # not linspace(0, 2 pi, K): no repeat
  return Mixture(np.stack([radius * np.cos(angles), radius * np.sin(angles)], -1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
  coords = (np.arange(side) - (side - 1) / 2) * spacing
  xx, yy = np.meshgrid(coords, coords, indexing='ij')
  return Mixture(np.stack([xx.ravel(), yy.ravel()], -1), std)


MIXTURES = {'ring': ring, 'grid': grid}


def get_mixture(name: str) -> Mixture:
  if name not in MIXTURES:
    raise ValueError(f'unknown 2-D mixture {name!r}; known: {", ".join(sorted(MIXTURES))}')
  return MIXTURES[name]()


def sample(mixture: Mixture, rng: np.random.Generator, n: int) -> np.ndarray:
  """`n` points `[n, 2]` float32 from the mixture."""
  modes = rng.integers(len(mixture.means), size=n)
  points = mixture.means[modes] + mixture.std * rng.standard_normal((n, 2))
  return points.astype(np.float32)


def packed_training_set(
  mixture: Mixture, rng: np.random.Generator, n: int, pack: int = 1
) -> np.ndarray:
  """PacGAN's code's training set (`GaussianPackingMixture`): `[n, pack, 2]` float32.

  `n` points are drawn once; slot j of the `n` tuples is an independent draw
  of `n` of them with replacement (pack 1 too: a bootstrap resample).
  """
  points = sample(mixture, rng, n)
  return np.stack([points[rng.integers(n, size=n)] for _ in range(pack)], axis=1)


def mode_coverage(mixture: Mixture, samples: np.ndarray) -> dict[str, float]:
  """The PacGAN metrics of `samples [N, 2]`.

  Returns:
    `modes_captured` (count), `high_quality` (fraction), `reverse_kl`
    (KL(generated mode histogram of high-quality samples || uniform); inf if
    none is high quality), and `mean_distance` to the nearest mode.
  """
  samples = np.asarray(samples, np.float64)
  if samples.ndim != 2 or samples.shape[1] != mixture.means.shape[1]:
    raise ValueError(f'samples must be [N, {mixture.means.shape[1]}]; got {samples.shape}')
  dist = np.linalg.norm(samples[:, None, :] - mixture.means[None], axis=-1)
  nearest, nearest_dist = dist.argmin(-1), dist.min(-1)
  hq = nearest_dist <= 3 * mixture.std
  counts = np.bincount(nearest[hq], minlength=len(mixture.means))
  k = len(mixture.means)
  if counts.sum():
    p = counts / counts.sum()
    nz = p > 0
    reverse_kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
  else:
    reverse_kl = float('inf')
  return {
    'modes_captured': float((counts > 0).sum()),
    'high_quality': float(hq.mean()),
    'reverse_kl': reverse_kl,
    'mean_distance': float(nearest_dist.mean()),
  }
