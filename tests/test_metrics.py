"""Known-answer tests of the metric maths (jaxgan/metrics.py), no network involved."""

import doctest

import numpy as np
import pytest
import scipy.linalg

from jaxgan.eval import metrics


def test_doctests():
  # FID, IS, class coverage and class accuracy carry examples: 6 `>>>` lines.
  result = doctest.testmod(metrics)
  assert result.attempted >= 6 and result.failed == 0, result


def test_fid_of_diagonal_gaussians_has_its_closed_form():
  rng = np.random.default_rng(0)
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  v1, v2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
  got = metrics.fid_from_stats(
    metrics.Stats(mu1, np.diag(v1), 0), metrics.Stats(mu2, np.diag(v2), 0)
  )
  want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
  np.testing.assert_allclose(got, want, rtol=1e-10)


def test_fid_agrees_with_scipy_sqrtm_on_full_rank_covariances():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(400, 32)), rng.normal(size=(400, 32)) @ rng.normal(size=(32, 32))
  s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  want = np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
  want += np.sum((a.mean(0) - b.mean(0)) ** 2)
  np.testing.assert_allclose(metrics.fid(a, b), want, rtol=1e-8)


def test_fid_stays_real_and_finite_for_rank_deficient_covariances():
  # 40 samples of 256-d features (and a collapsed set: one point repeated): covariances of
  # rank <= 39 or 0, where sqrtm of the product gives complex or NaN values.
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=(40, 256)), rng.normal(size=(40, 256)) + 0.5
  collapsed = np.repeat(rng.normal(size=(1, 256)), 40, axis=0)
  for x, y in ((a, b), (a, collapsed), (collapsed, collapsed)):
    value = metrics.fid(x, y)
    assert np.isfinite(value) and value >= 0 and isinstance(value, float)
  assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-9 * np.trace(np.cov(a, rowvar=False)))
  assert metrics.fid(a, b) > metrics.fid(a, a + 1e-3)


def test_fewer_samples_than_features_take_the_low_rank_path_to_the_same_value():
  rng = np.random.default_rng(4)
  a, b = rng.normal(size=(30, 128)), rng.normal(size=(50, 128)) @ rng.normal(size=(128, 128))
  full_rank = metrics.stats(rng.normal(size=(300, 128)))
  assert full_rank.factor is None and metrics.stats(a).factor.shape == (30, 128)
  drop = lambda s: metrics.Stats(s.mu, s.sigma, s.n)  # as statistics loaded from a file
  for x, y in ((a, b), (b, a), (a, full_rank), (full_rank, b)):
    sx = x if isinstance(x, metrics.Stats) else metrics.stats(x)
    sy = y if isinstance(y, metrics.Stats) else metrics.stats(y)
    want = metrics.fid_from_stats(drop(sx), drop(sy))  # two F x F eigendecompositions
    np.testing.assert_allclose(metrics.fid_from_stats(sx, sy), want, rtol=1e-7)
  s = metrics.stats(a)
  np.testing.assert_allclose(s.factor.T @ s.factor, s.sigma, atol=1e-12)


def test_kid_is_the_unbiased_polynomial_mmd():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.3
  k = lambda a, b: (a @ b / 5 + 1) ** 3
  m = len(x)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
  mean, std = metrics.kid(x, y, num_subsets=3, subset_size=1000)  # subsets = the whole sets
  np.testing.assert_allclose(mean, xx + yy - 2 * xy, rtol=1e-10)
  assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_not_for_two():
  rng = np.random.default_rng(4)
  same, _ = metrics.kid(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)), subset_size=200)
  shifted, _ = metrics.kid(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)) + 1.0)
  assert abs(same) < 0.01 < shifted


def test_inception_score_limits():
  assert metrics.inception_score(np.zeros((100, 7)), splits=5)[0] == pytest.approx(1.0)
  sure = np.eye(10)[np.arange(100) % 10] * 50.0  # confident, every class equally often
  assert metrics.inception_score(sure, splits=10)[0] == pytest.approx(10.0, rel=1e-6)
  one_class = np.eye(10)[np.zeros(100, int)] * 50.0  # confident, one class: no diversity
  assert metrics.inception_score(one_class, splits=10)[0] == pytest.approx(1.0, abs=1e-6)


def test_precision_recall_known_geometry():
  rng = np.random.default_rng(5)
  real = rng.normal(size=(300, 2))
  assert metrics.precision_recall(real, real) == {'precision': 1.0, 'recall': 1.0}
  far = metrics.precision_recall(real, real + 100.0)
  assert far == {'precision': 0.0, 'recall': 0.0}
  # Fakes on half of the real support (x > 0): precise, but half the reals are missed.
  half = real[real[:, 0] > 0]
  pr = metrics.precision_recall(real, half)
  assert pr['precision'] == 1.0 and 0.35 < pr['recall'] < 0.65


def test_density_coverage_known_geometry():
  rng = np.random.default_rng(6)
  real, fake = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
  dc = metrics.density_coverage(real, fake)
  assert 0.85 < dc['density'] < 1.15 and dc['coverage'] > 0.9
  collapsed = metrics.density_coverage(real, np.zeros((2000, 2)))  # one mode, at the centre
  radii = metrics.knn_radii(real, 5)
  holding = np.sum(np.linalg.norm(real, axis=1) < radii)  # real balls around the origin
  assert collapsed['coverage'] == pytest.approx(holding / 2000)
  assert collapsed['density'] == pytest.approx(holding / 5)


def test_class_coverage_and_kl():
  assert metrics.class_coverage(np.arange(100) % 10, 10) == {'classes': 10.0, 'class_kl': 0.0}
  one = metrics.class_coverage(np.full(50, 3), 10)
  assert one['classes'] == 1.0 and one['class_kl'] == pytest.approx(np.log(10))


def test_memorisation_score_tells_copies_from_new_draws():
  rng = np.random.default_rng(7)
  train = rng.normal(size=(1000, 4))
  assert metrics.memorisation(train[:200] + 1e-6, train)['memorised'] == 1.0
  fresh = metrics.memorisation(rng.normal(size=(1000, 4)), train)['memorised']
  assert fresh < 0.05


def test_stats_and_shapes_are_checked():
  with pytest.raises(ValueError, match='N >= 2'):
    metrics.stats(np.zeros((1, 3)))
  with pytest.raises(ValueError, match='different feature sizes'):
    metrics.fid(np.zeros((5, 3)), np.zeros((5, 4)))
