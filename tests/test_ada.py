"""jaxgan.ada: the ADA pipeline's identity at p = 0, known answers, gradients, and the p controller.

Images are tiny (8x8, 16x16) and each distinct program is compiled once (`_augment` is shared),
so the file runs in well under a minute on two CPU cores.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import ada

_augment = jax.jit(ada.augment, static_argnames='pipe')


def _images(shape, seed=0):
  """Random images in [-1, 1], with the edge values and a negative zero in them."""
  x = np.asarray(jax.random.uniform(jax.random.key(seed), shape, minval=-1, maxval=1))
  x = x.copy()
  x[0, 0, 0, 0], x[0, 0, 1, 0], x[0, 1, 0, 0] = -0.0, -1.0, 1.0
  return jnp.asarray(x)


def _p(value):
  return jnp.asarray(value, jnp.float32)  # One abstract type: a traced p never retraces.


def _bits(x):
  return np.asarray(x).view(np.uint32)


@pytest.mark.parametrize('channels', [1, 3])
def test_p0_is_the_identity_bit_for_bit_and_p1_changes_every_image(channels):
  x = _images((8, 8, 8, channels))
  same = _augment(x, jax.random.key(1), _p(0.0))
  np.testing.assert_array_equal(same, x)
  np.testing.assert_array_equal(_bits(same), _bits(x))  # -0.0 stays -0.0
  moved = _augment(x, jax.random.key(1), _p(1.0))
  assert moved.shape == x.shape and moved.dtype == x.dtype
  chex.assert_tree_all_finite(moved)
  assert all(not np.array_equal(moved[i], x[i]) for i in range(x.shape[0]))


# Each group, and each transformation alone: it moves the images and its gradient is the
# transpose of the (linear in the images) augmentation, so it is finite, non-zero and right.
@pytest.mark.parametrize('pipe', ['b', 'g', 'c'])
def test_gradients_reach_the_images_through_each_group(pipe):
  x = _images((4, 8, 8, 3))
  weights, step = jax.random.normal(jax.random.key(2), (2, *x.shape))
  rng = jax.random.key(3)

  @jax.jit
  def probe(x):
    f = lambda x: ada.augment(x, rng, 1.0, pipe=pipe)
    y, vjp = jax.vjp(f, x)
    (grad,) = vjp(weights)
    return y, f(x + step) - y, grad

  y, delta, grad = probe(x)
  chex.assert_tree_all_finite(grad)
  assert not np.array_equal(y, x) and np.abs(np.asarray(grad)).sum() > 0
  # <w, f(x + d) - f(x)> = <grad, d>: f is affine in the images.
  np.testing.assert_allclose(jnp.vdot(weights, delta), jnp.vdot(grad, step), rtol=1e-4)


def test_xflip_leaves_a_symmetric_image_and_mirrors_the_others():
  x = _images((16, 8, 8, 3))
  symmetric = x + x[:, :, ::-1]
  np.testing.assert_array_equal(
    _augment(symmetric, jax.random.key(0), _p(1.0), pipe='xflip'), symmetric
  )
  y = np.asarray(_augment(x, jax.random.key(0), _p(1.0), pipe='xflip'))
  flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
  kept = [np.array_equal(y[i], x[i]) for i in range(16)]
  assert all(f != k for f, k in zip(flipped, kept, strict=True)) and 0 < sum(flipped) < 16


def test_integer_translation_moves_pixels_exactly_with_mirrored_borders():
  x = np.asarray(_images((16, 16, 16, 1)))
  y = np.asarray(_augment(jnp.asarray(x), jax.random.key(0), _p(1.0), pipe='xint'))
  padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode='reflect')  # shifts <= 0.125 * 16
  shifts = []
  for i in range(16):
    found = [
      (dy, dx)
      for dy in range(-2, 3)
      for dx in range(-2, 3)
      if np.array_equal(y[i], padded[i, 2 - dy : 18 - dy, 2 - dx : 18 - dx])
    ]
    assert len(found) == 1, found
    shifts += found
  assert len(set(shifts)) > 3  # varied shifts, not only (0, 0)


def test_rotate90_turns_by_exact_quarter_turns():
  x = np.asarray(_images((32, 8, 8, 3)))
  y = np.asarray(_augment(jnp.asarray(x), jax.random.key(0), _p(1.0), pipe='rotate90'))
  turns = []
  for i in range(32):
    turns += [k for k in range(4) if np.array_equal(y[i], np.rot90(x[i], k))]
  assert len(turns) == 32 and set(turns) == {0, 1, 2, 3}
  with pytest.raises(ValueError, match='square'):
    ada.augment(jnp.zeros((2, 8, 4, 3)), jax.random.key(0), 1.0, pipe='rotate90')


def test_warp_moves_pixels_exactly_and_interpolates_bilinearly():
  x = np.asarray(_images((1, 8, 8, 2)))
  shift = jnp.array([[[1.0, 0, -2], [0, 1, 1], [0, 0, 1]]])  # source = output + (-2, 1)
  padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode='reflect')
  np.testing.assert_array_equal(ada.warp(x, shift), padded[:, 3:11, 0:8])
  quarter = jnp.array([[[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]]])
  np.testing.assert_array_equal(ada.warp(x, quarter), np.rot90(x, -1, axes=(1, 2)))
  half = jnp.array([[[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]]])
  np.testing.assert_allclose(
    ada.warp(x, half)[:, :, :7], (x[:, :, :7] + x[:, :, 1:]) / 2, atol=1e-6
  )


def test_geometric_matrices_are_the_identity_at_p0_and_keep_area_without_scaling():
  shape = (16, 8, 8, 3)
  eye = np.broadcast_to(np.eye(3), (16, 3, 3))
  np.testing.assert_array_equal(ada.geometric_matrix(jax.random.key(0), 0.0, shape), eye)
  m = ada.geometric_matrix(jax.random.key(0), 1.0, shape, ('rotate', 'aniso', 'xfrac'))
  np.testing.assert_allclose(np.linalg.det(np.asarray(m)), 1.0, rtol=1e-5)
  np.testing.assert_array_equal(m[:, 2], eye[:, 2])  # affine
  assert not np.any(np.all(np.isclose(m, eye), axis=(1, 2)))


@pytest.mark.parametrize('channels', [1, 3])
def test_brightness_adds_a_constant_and_contrast_multiplies(channels):
  x = _images((16, 8, 8, channels))
  diff = np.asarray(_augment(x, jax.random.key(0), _p(1.0), pipe='brightness') - x)
  np.testing.assert_allclose(diff, np.broadcast_to(diff[:, :1, :1, :1], diff.shape), atol=1e-6)
  assert np.all(diff[:, 0, 0, 0] != 0) and 0.05 < np.std(diff[:, 0, 0, 0]) < 0.5
  y = np.asarray(_augment(x, jax.random.key(0), _p(1.0), pipe='contrast'))
  ratio = y[:, 1:, 1:] / np.asarray(x)[:, 1:, 1:]
  np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1, :1], ratio.shape), rtol=1e-5)


def test_colour_matrices_luma_flip_hue_and_saturation():
  batch, rng = 16, jax.random.key(0)
  flip = np.asarray(ada.color_matrix(rng, 1.0, batch, ('lumaflip',)))
  np.testing.assert_allclose(flip @ flip, np.broadcast_to(np.eye(4), flip.shape), atol=1e-6)
  det = np.linalg.det(flip)
  assert set(np.round(det).astype(int)) == {-1, 1}  # some flipped (i = 1), some not (i = 0)
  grey = _images((batch, 8, 8, 1))
  y = np.asarray(_augment(grey, rng, _p(1.0), pipe='lumaflip'))
  negated = np.isclose(y, -np.asarray(grey), atol=1e-6).all(axis=(1, 2, 3))
  assert np.all(negated | (y == grey).all(axis=(1, 2, 3))) and 0 < negated.sum() < batch
  x = _images((batch, 8, 8, 3))
  hued = _augment(x, rng, _p(1.0), pipe='hue')
  np.testing.assert_allclose(hued.mean(-1), x.mean(-1), atol=1e-5)  # rotation about luma
  assert not np.allclose(hued, x)
  grey3 = jnp.repeat(grey, 3, axis=-1)
  sat = np.asarray(_augment(grey3, rng, _p(1.0), pipe='saturation,hue'))
  np.testing.assert_allclose(sat, grey3, atol=1e-5)  # grey has no hue or saturation


def test_parse_pipe():
  assert ada.parse_pipe('bgc') == ada.TRANSFORMS and ada.parse_pipe('') == ()
  assert ada.parse_pipe('hue, b') == ('xflip', 'rotate90', 'xint', 'hue')
  with pytest.raises(ValueError, match='unknown ADA pipe element'):
    ada.parse_pipe('bgcx')


def test_jit_matches_eager_and_a_traced_p_traces_once():
  x = _images((8, 8, 8, 3))

  @jax.jit
  @chex.assert_max_traces(n=1)
  def fn(x, rng, p):
    return ada.augment(x, rng, p)

  for i, p in enumerate([0.0, 0.7, 1.0]):
    fn(x, jax.random.key(i), _p(p))
  eager = ada.augment(x, jax.random.key(1), _p(0.7))
  chex.assert_trees_all_close(fn(x, jax.random.key(1), _p(0.7)), eager, atol=1e-5)


def test_update_p_moves_by_exactly_one_step_and_stays_in_0_1():
  step = np.float32(64 * 4 / 500_000)
  up = ada.ada_stats(jnp.full((64, 1), 2.0))
  down = ada.ada_stats(-jnp.ones((64,)))
  assert up == 1 and down == -1
  kw = dict(batch_size=64)
  assert ada.update_p(0.5, up, **kw) == np.float32(0.5) + step
  assert ada.update_p(0.5, down, **kw) == np.float32(0.5) - step
  assert ada.update_p(0.5, 0.6, **kw) == 0.5  # at the target
  assert ada.update_p(0.0, down, **kw) == 0.0 and ada.update_p(1.0, up, **kw) == 1.0
  assert ada.update_p(0.9, up, batch_size=50_000) == 1.0  # a step of 0.4, clamped at 1
  assert ada.update_p(0.5, up, target=None, **kw) == 0.5  # fixed p


def test_ada_step_adjusts_p_every_interval_from_the_mean_sign():
  step = np.float32(8 * 4 / 500_000)
  ada_step = jax.jit(ada.ada_step)
  state = ada.AdaState.create(0.25)
  signs = [1.0, 1.0, -1.0, 1.0]  # r_t = 0.5 over the interval: below 0.6, p falls
  for i, sign in enumerate(signs):
    assert state.p == np.float32(0.25)
    state = ada_step(state, jnp.full((8,), sign) * (i + 1))
  assert state.p == np.float32(0.25) - step and state.rt_steps == 0 and state.rt_sum == 0
  for _ in range(4):
    state = ada_step(state, jnp.ones((8, 1)))
  assert state.p == np.float32(0.25) - step + step
  fixed = functools.partial(ada.ada_step, target=None)
  for _ in range(4):
    state = fixed(state, jnp.ones((8,)))
  assert state.p == np.float32(0.25) - step + step

  def run(p, sign):  # 600 adjustments of 0.0032 at a constant sign: from the middle to a bound
    body = lambda _, s: ada.ada_step(s, jnp.full((800,), sign), interval=1, speed_kimg=250)
    return jax.lax.fori_loop(0, 600, body, ada.AdaState.create(p)).p

  assert jax.jit(run)(0.5, 1.0) == 1.0 and jax.jit(run)(0.5, -1.0) == 0.0
