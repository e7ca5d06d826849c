"""jaxgan.augment: DiffAugment's transformations, policies and gradients, and a step using it."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import augment, models, steps
from jaxgan import state as state_lib
from tests import helpers


def test_translation_shifts_with_zero_fill_and_cutout_blanks_a_half_square():
  x = jnp.ones((64, 16, 16, 1))
  moved = augment.translation(x, jax.random.key(0))
  zeros_rows = np.asarray((moved[..., 0] == 0).all(axis=2)).sum(axis=1)
  assert zeros_rows.max() <= 2 and zeros_rows.max() > 0  # at most 1/8 of 16 rows
  cut = augment.cutout(x, jax.random.key(1))
  blanked = np.asarray((cut == 0).sum(axis=(1, 2, 3)))
  assert blanked.max() == 64 and blanked.min() > 0  # an 8x8 square, clipped at the borders


def test_color_and_policies():
  x = helpers.random_images()
  a = augment.diff_augment(x, jax.random.key(0), 'color,translation,cutout')
  b = augment.diff_augment(x, jax.random.key(0), 'color,translation,cutout')
  np.testing.assert_array_equal(a, b)  # a pure function of the key
  assert a.shape == x.shape and not np.allclose(a, x)
  np.testing.assert_array_equal(augment.diff_augment(x, jax.random.key(0), ''), x)
  grey = jnp.repeat(helpers.random_images()[..., :1], 3, axis=-1)
  coloured = augment.color(grey, jax.random.key(2))
  np.testing.assert_allclose(coloured[..., 0], coloured[..., 1], atol=1e-6)  # saturation keeps grey
  grads = jax.grad(
    lambda x: jnp.sum(augment.diff_augment(x, jax.random.key(3), 'color,translation'))
  )(x)
  assert np.abs(np.asarray(grads)).sum() > 0  # G is trained through the augmentation
  with pytest.raises(ValueError, match='unknown DiffAugment policy'):
    augment.parse('colour')


def test_diffaug_step_trains():
  g, d = models.create_models('dcgan', dict(size=16, channels=3, width=4, latent_dim=4))
  state = state_lib.create_gan_state(
    jax.random.key(0),
    generator=g,
    discriminator=d,
    g_tx=optax.adam(1e-3),
    d_tx=optax.adam(1e-3),
    g_inputs=[jnp.zeros((1, 4))],
    d_inputs=[jnp.zeros((1, 16, 16, 3))],
    latent_shape=(4,),
  )
  step = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(diffaug='color,translation,cutout'))
  )
  plain = jax.jit(steps.train_step)
  s1, m1 = step(state, {'image': helpers.random_images(8)})
  s0, m0 = plain(state, {'image': helpers.random_images(8)})
  assert np.isfinite(float(m1['g_loss'])) and float(m1['d_loss']) != float(m0['d_loss'])
