"""Closed-form values, stability and penalties of jaxgan.losses."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses

LOG2 = np.log(2.0)
REAL = jnp.array([0.0, 2.0, -1.0])
FAKE = jnp.array([0.0, -3.0, 1.0])


def _sp(x):
  return np.log1p(np.exp(x))


EXPECTED = {
  # name: (d per example, g per example) on REAL/FAKE above.
  'minimax': (_sp(-np.array(REAL)) + _sp(np.array(FAKE)), -_sp(np.array(FAKE))),
  'non_saturating': (_sp(-np.array(REAL)) + _sp(np.array(FAKE)), _sp(-np.array(FAKE))),
  'wasserstein': (np.array(FAKE) - np.array(REAL), -np.array(FAKE)),
  'hinge': (
    np.maximum(0, 1 - np.array(REAL)) + np.maximum(0, 1 + np.array(FAKE)),
    -np.array(FAKE),
  ),
  'least_squares': (
    0.5 * (np.array(REAL) - 1) ** 2 + 0.5 * np.array(FAKE) ** 2,
    0.5 * (np.array(FAKE) - 1) ** 2,
  ),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_closed_form(name):
  loss = losses.get_adversarial_loss(name)
  d_expected, g_expected = EXPECTED[name]
  np.testing.assert_allclose(loss.d(REAL, FAKE), d_expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(loss.g(REAL, FAKE), g_expected, rtol=1e-6, atol=1e-6)


def test_logistic_at_zero_is_two_log_two():
  loss = losses.get_adversarial_loss('non_saturating')
  np.testing.assert_allclose(loss.d(jnp.zeros(1), jnp.zeros(1)), [2 * LOG2], rtol=1e-6)


def test_relativistic_average_closed_form():
  loss = losses.get_adversarial_loss('relativistic_average')
  assert loss.g_needs_real
  r, f = np.array(REAL), np.array(FAKE)
  d = _sp(-(r - f.mean())) + _sp(f - r.mean())
  g = _sp(r - f.mean()) + _sp(-(f - r.mean()))
  np.testing.assert_allclose(loss.d(REAL, FAKE), d, rtol=1e-6)
  np.testing.assert_allclose(loss.g(REAL, FAKE), g, rtol=1e-6)


@pytest.mark.parametrize('name', sorted(losses.ADVERSARIAL_LOSSES))
def test_finite_for_extreme_logits(name):
  loss = losses.get_adversarial_loss(name)
  big = jnp.array([-1e4, 1e4, 0.0])
  d = (lambda r, f: loss.d(r, f, 0.5)) if loss.equilibrium else loss.d
  for fn in (d, loss.g):
    value, grad = jax.value_and_grad(lambda f, fn=fn: jnp.sum(fn(big, f)))(big[::-1])
    chex.assert_tree_all_finite((value, grad))


def test_minimax_saturates_non_saturating_does_not():
  # As D(G(z)) -> 0 (fake logit -> -inf) the minimax G gradient vanishes.
  fake = jnp.array([-1.0, -5.0, -10.0, -20.0])
  grad = lambda name: jax.grad(
    lambda f: jnp.sum(losses.get_adversarial_loss(name).g(jnp.zeros(4), f))
  )(fake)
  minimax, non_saturating = np.abs(grad('minimax')), np.abs(grad('non_saturating'))
  assert np.all(np.diff(minimax) < 0) and minimax[-1] < 1e-8
  assert np.all(non_saturating > 0.7)


def test_unknown_loss_lists_known():
  with pytest.raises(ValueError, match='known losses: .*hinge.*non_saturating'):
    losses.get_adversarial_loss('vanilla_typo')


def test_shape_checks():
  with pytest.raises(ValueError, match='logits must be'):
    losses.get_adversarial_loss('hinge').d(jnp.zeros((2, 1)), jnp.zeros((2, 1)))
  with pytest.raises(ValueError, match='differ in shape'):
    losses.get_adversarial_loss('hinge').d(jnp.zeros(2), jnp.zeros(3))


def test_r1_r2_on_known_gradient():
  # critic(x) = sum_j w_j x_j^2 -> grad = 2 w x, squared norm = sum (2 w x)^2.
  w = jnp.array([1.0, -2.0, 0.5])
  critic = lambda x: jnp.sum(w * x**2, axis=-1)
  x = jnp.array([[1.0, 1.0, 1.0], [0.0, 2.0, -2.0]])
  expected = np.sum((2 * np.array(w) * np.array(x)) ** 2, axis=-1)
  np.testing.assert_allclose(losses.r1_penalty(critic, x), expected, rtol=1e-6)
  np.testing.assert_allclose(losses.r2_penalty(critic, x), expected, rtol=1e-6)


def test_gradient_penalty_on_linear_critic():
  # A linear critic has gradient w everywhere: penalty = (|w| - 1)^2 for any interpolate.
  w = jnp.array([3.0, 4.0])
  critic = lambda x: x @ w
  real, fake = jnp.ones((5, 2)), -jnp.ones((5, 2))
  gp = losses.gradient_penalty(critic, real, fake, jax.random.key(0))
  chex.assert_shape(gp, (5,))
  np.testing.assert_allclose(gp, np.full(5, 16.0), rtol=1e-5)
  with pytest.raises(ValueError, match='same shape'):
    losses.gradient_penalty(critic, real, fake[:2], jax.random.key(0))


def test_cycle_and_identity_losses():
  x = jnp.zeros((2, 4, 4, 3))
  y = x.at[0].set(1.0).at[1].set(-0.5)
  np.testing.assert_allclose(losses.cycle_consistency_loss(x, y), [1.0, 0.5])
  np.testing.assert_allclose(losses.identity_loss(x, y), [1.0, 0.5])
