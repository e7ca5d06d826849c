"""GAN losses on discriminator logits, gradient penalties and reconstruction losses.

Every function returns per-example values (`[B]`), never a hidden mean: the
step decides how to reduce. Logits are unbounded reals; probabilities are
never formed (`log(sigmoid(x))` is written `-softplus(-x)`), so the losses stay
finite for any logit.

An adversarial loss is a pair of functions `d(real_logits, fake_logits)` and
`g(real_logits, fake_logits)` chosen by name from `ADVERSARIAL_LOSSES`. G-side
functions take the real logits too because the relativistic loss needs them;
`AdversarialLoss.g_needs_real` says whether D must be run on real data for G.

>>> import jax.numpy as jnp
>>> real, fake = jnp.array([0.0]), jnp.array([0.0])
>>> float(get_adversarial_loss('non_saturating').d(real, fake)[0])  # 2 log 2
1.3862943649291992
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array
LossFn = Callable[[Array, Array], Array]


def _check_logits(real_logits: Array, fake_logits: Array) -> None:
  if real_logits.ndim != 1 or fake_logits.ndim != 1:
    raise ValueError(f'logits must be [B]; got real {real_logits.shape}, fake {fake_logits.shape}')
  if real_logits.shape != fake_logits.shape:
    raise ValueError(
      f'real and fake logits differ in shape: {real_logits.shape} vs {fake_logits.shape}'
    )


def _d_logistic(real_logits: Array, fake_logits: Array) -> Array:
  """-log D(x) - log(1 - D(G(z))) with D = sigmoid(logit)."""
  _check_logits(real_logits, fake_logits)
  return jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)


def _g_minimax(real_logits: Array, fake_logits: Array) -> Array:
  """The original (saturating) G loss log(1 - D(G(z))), to be minimised."""
  _check_logits(real_logits, fake_logits)
  return -jax.nn.softplus(fake_logits)


def _g_non_saturating(real_logits: Array, fake_logits: Array) -> Array:
  """-log D(G(z)): the same fixed point, strong gradients when D rejects the fakes."""
  _check_logits(real_logits, fake_logits)
  return jax.nn.softplus(-fake_logits)


def _d_wasserstein(real_logits: Array, fake_logits: Array) -> Array:
  _check_logits(real_logits, fake_logits)
  return fake_logits - real_logits


def _g_wasserstein(real_logits: Array, fake_logits: Array) -> Array:
  _check_logits(real_logits, fake_logits)
  return -fake_logits


def _d_hinge(real_logits: Array, fake_logits: Array) -> Array:
  _check_logits(real_logits, fake_logits)
  return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def _d_least_squares(real_logits: Array, fake_logits: Array) -> Array:
  """LSGAN (Mao et al., 2017) with targets a=0 (fake), b=1 (real)."""
  _check_logits(real_logits, fake_logits)
  return 0.5 * jnp.square(real_logits - 1.0) + 0.5 * jnp.square(fake_logits)


def _g_least_squares(real_logits: Array, fake_logits: Array) -> Array:
  """LSGAN G side with target c=1."""
  _check_logits(real_logits, fake_logits)
  return 0.5 * jnp.square(fake_logits - 1.0)


def _d_relativistic_average(real_logits: Array, fake_logits: Array) -> Array:
  """RaSGAN (Jolicoeur-Martineau, 2018): real should look more real than the average fake."""
  _check_logits(real_logits, fake_logits)
  real_rel = real_logits - jnp.mean(fake_logits)
  fake_rel = fake_logits - jnp.mean(real_logits)
  return jax.nn.softplus(-real_rel) + jax.nn.softplus(fake_rel)


def _g_relativistic_average(real_logits: Array, fake_logits: Array) -> Array:
  _check_logits(real_logits, fake_logits)
  real_rel = real_logits - jnp.mean(fake_logits)
  fake_rel = fake_logits - jnp.mean(real_logits)
  return jax.nn.softplus(real_rel) + jax.nn.softplus(-fake_rel)


def began_d(real_errors: Array, fake_errors: Array, k: Array) -> Array:
  """BEGAN's D loss (Berthelot et al., 2017): `L(x) - k_t L(G(z))`, `[B]`.

  D is an auto-encoder and its "logits" are per-example reconstruction errors
  `L(v) = |v - D(v)|_1`: D lowers the real ones and raises the fake ones by the
  equilibrium weight `k_t` in [0, 1] (`began_k_update`).
  """
  _check_logits(real_errors, fake_errors)
  return real_errors - k * fake_errors


def _g_began(real_errors: Array, fake_errors: Array) -> Array:
  """BEGAN's G loss `L(G(z))`: fakes that D's auto-encoder reconstructs well."""
  _check_logits(real_errors, fake_errors)
  return fake_errors


def began_k_update(
  k: Array, real_error: Array, fake_error: Array, *, gamma: float, lambda_k: float
) -> Array:
  """`k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)`, from the batch means.

  `gamma = E[L(G(z))] / E[L(x)]` at equilibrium is the diversity ratio: lower
  values give sharper, less diverse samples (the paper uses 0.3 to 0.7).
  """
  return jnp.clip(k + lambda_k * (gamma * real_error - fake_error), 0.0, 1.0)


def began_convergence(real_error: Array, fake_error: Array, *, gamma: float) -> Array:
  """BEGAN's global convergence measure `L(x) + |gamma L(x) - L(G(z))|` (lower is better)."""
  return real_error + jnp.abs(gamma * real_error - fake_error)


class AdversarialLoss(NamedTuple):
  """D-side and G-side losses of one GAN objective.

  `equilibrium`: D's loss takes a third argument, BEGAN's `k_t`, which the
  step carries in the state.
  """

  d: Callable[..., Array]
  g: LossFn
  g_needs_real: bool = False
  equilibrium: bool = False


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
  'minimax': AdversarialLoss(_d_logistic, _g_minimax),
  'non_saturating': AdversarialLoss(_d_logistic, _g_non_saturating),
  'wasserstein': AdversarialLoss(_d_wasserstein, _g_wasserstein),
  'hinge': AdversarialLoss(_d_hinge, _g_wasserstein),
  'least_squares': AdversarialLoss(_d_least_squares, _g_least_squares),
  'relativistic_average': AdversarialLoss(
    _d_relativistic_average, _g_relativistic_average, g_needs_real=True
  ),
  'began': AdversarialLoss(began_d, _g_began, equilibrium=True),
}


def get_adversarial_loss(name: str) -> AdversarialLoss:
  """Returns the loss pair called `name`.

  Raises:
    ValueError: for an unknown name, listing the known ones.
  """
  try:
    return ADVERSARIAL_LOSSES[name]
  except KeyError:
    raise ValueError(
      f'unknown GAN loss {name!r}; known losses: {", ".join(sorted(ADVERSARIAL_LOSSES))}'
    ) from None


def _per_example_grad_sq_norm(critic_fn: Callable[[Array], Array], x: Array) -> Array:
  """||d critic(x)_i / d x_i||^2 for each critic output `i` (outputs must not interact).

  One output per example, `[B]`; a packing critic (PacGAN) that judges `m`
  consecutive examples jointly gives `[B / m]`: the norm of the gradient of
  each output with respect to its whole pack.
  """
  logits, pullback = jax.vjp(critic_fn, x)
  (grads,) = pullback(jnp.ones_like(logits))
  return jnp.sum(jnp.square(grads.reshape(logits.shape[0], -1)), axis=-1)


def gradient_penalty(
  critic_fn: Callable[[Array], Array], real: Array, fake: Array, rng: Array, *, target: float = 1.0
) -> Array:
  """WGAN-GP (Gulrajani et al., 2017): `(||grad critic(x_hat)|| - target)^2`, `[B]`.

  `x_hat` is a uniform random interpolation between paired real and fake
  examples. The critic should have no batch-dependent layers (BatchNorm) for
  the penalty to be per-example, as the paper advises.

  Args:
    critic_fn: maps `[B, ...]` inputs to `[B]` logits.
    real: `[B, ...]` real examples.
    fake: `[B, ...]` generated examples, same shape.
    rng: key for the interpolation weights.
    target: the norm the penalty pulls towards.
  """
  if real.shape != fake.shape:
    raise ValueError(f'real {real.shape} and fake {fake.shape} must have the same shape')
  # One weight per critic output: a packing critic's pack is interpolated as one point.
  n = jax.eval_shape(critic_fn, real).shape[0]
  alpha = jax.random.uniform(rng, (n,) + (1,) * (real.ndim - 1), real.dtype)
  alpha = jnp.repeat(alpha, real.shape[0] // n, axis=0)
  x_hat = real + alpha * (fake - real)
  norm = jnp.sqrt(_per_example_grad_sq_norm(critic_fn, x_hat) + 1e-12)
  return jnp.square(norm - target)


def r1_penalty(critic_fn: Callable[[Array], Array], real: Array) -> Array:
  """R1 (Mescheder et al., 2018): `||grad critic(x)||^2` on real data, `[B]`.

  The paper's regulariser is `gamma / 2` times the mean of this.
  """
  return _per_example_grad_sq_norm(critic_fn, real)


def r2_penalty(critic_fn: Callable[[Array], Array], fake: Array) -> Array:
  """R2: `||grad critic(x)||^2` on generated data, `[B]`."""
  return _per_example_grad_sq_norm(critic_fn, fake)


def l1_per_example(x: Array, y: Array) -> Array:
  """Mean absolute error over all but the leading axis, `[B]`."""
  if x.shape != y.shape:
    raise ValueError(f'shapes differ: {x.shape} vs {y.shape}')
  return jnp.mean(jnp.abs(x - y).reshape(x.shape[0], -1), axis=-1)


def cycle_consistency_loss(x: Array, reconstructed: Array) -> Array:
  """CycleGAN's cycle loss `|F(G(x)) - x|_1` per example, `[B]` (weight applied by caller)."""
  return l1_per_example(reconstructed, x)


def identity_loss(x: Array, mapped: Array) -> Array:
  """CycleGAN's identity loss `|G(y) - y|_1` per example, `[B]` (`y` in G's target domain)."""
  return l1_per_example(mapped, x)
