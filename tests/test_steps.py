"""Invariants of the pure steps: who changes what, determinism, tracing, settings."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import models, steps
from jaxgan import state as state_lib
from tests import helpers

SIZE, CH, LATENT = 16, 1, 8


# Built once: static fields (modules, optimizers) are part of the state's tree structure.
G, D = models.create_models('dcgan', dict(size=SIZE, channels=CH, width=4, latent_dim=LATENT))
TX = optax.adam(2e-4, b1=0.5)


def _state(seed=0, use_ema=True):
  return state_lib.create_gan_state(
    jax.random.key(seed),
    generator=G,
    discriminator=D,
    g_tx=TX,
    d_tx=TX,
    g_inputs=[jnp.zeros((1, LATENT))],
    d_inputs=[jnp.zeros((1, SIZE, SIZE, CH))],
    latent_shape=(LATENT,),
    use_ema=use_ema,
  )


def _batch(n=8, seed=0):
  x = np.random.default_rng(seed).uniform(-1, 1, (n, SIZE, SIZE, CH)).astype(np.float32)
  return {'image': jnp.asarray(x)}


def _assert_identical(a, b):
  chex.assert_trees_all_equal(a, b)


def _assert_changed(a, b):
  assert any(
    not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )


def test_d_step_leaves_g_bit_identical():
  s0 = _state()
  s1, metrics = jax.jit(steps.d_step)(s0, _batch())
  _assert_identical(s0.g, s1.g)
  _assert_identical(s0.ema, s1.ema)
  _assert_changed(s0.d.params, s1.d.params)
  _assert_changed(s0.d.collections, s1.d.collections)
  assert int(s1.d.step) == 1
  chex.assert_tree_all_finite(metrics)


def test_g_step_leaves_d_bit_identical():
  s0 = _state()
  s1, metrics = jax.jit(functools.partial(steps.g_step, settings=steps.Settings(ema_decay=0.9)))(
    s0, _batch()
  )
  _assert_identical(s0.d, s1.d)
  _assert_changed(s0.g.params, s1.g.params)
  _assert_changed(s0.ema, s1.ema)
  assert int(s1.g.step) == 1
  chex.assert_tree_all_finite(metrics)


@pytest.mark.parametrize('loss', ['non_saturating', 'relativistic_average', 'hinge'])
def test_same_seed_same_state(loss):
  step = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(loss=loss, ema_decay=0.99))
  )

  def run():
    s, _ = step(_state(), _batch())
    return step(s, _batch(seed=1))[0]

  _assert_identical(run(), run())
  # A different seed plays a different game.
  _assert_changed(
    step(_state(seed=0), _batch())[0].g.params, step(_state(seed=1), _batch())[0].g.params
  )


def test_train_step_traces_once_and_advances():
  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(state, batch):
    return steps.train_step(state, batch, settings=steps.Settings(ema_decay=0.5))

  s = _state()
  for i in range(3):
    s, metrics = step(s, _batch(seed=i))
  assert (int(s.step), int(s.g.step), int(s.d.step)) == (3, 3, 3)
  assert {'d_loss', 'g_loss', 'd_real_logit', 'd_fake_logit'} <= set(metrics)


def test_train_step_is_d_step_then_g_step():
  s0 = _state()
  s_train, _ = jax.jit(functools.partial(steps.train_step, settings=steps.Settings(ema_decay=0.9)))(
    s0, _batch()
  )
  s_d, _ = jax.jit(steps.d_step)(s0, _batch())
  s_dg, _ = jax.jit(functools.partial(steps.g_step, settings=steps.Settings(ema_decay=0.9)))(
    s_d, _batch()
  )
  chex.assert_trees_all_close(s_train.replace(step=s0.step), s_dg, rtol=1e-5, atol=1e-6)
  # G trained against the OLD D is a different G: the alternation is real.
  s_g_old_d, _ = jax.jit(steps.g_step)(s0, _batch())
  _assert_changed(s_g_old_d.g.params, s_train.g.params)


@pytest.mark.parametrize(
  'settings',
  [
    dict(loss='wasserstein', n_critic=3, gp_weight=10.0),
    dict(loss='non_saturating', r1_gamma=10.0, r2_gamma=1.0),
    dict(loss='least_squares', d_joint=True),
    dict(loss='minimax'),
  ],
)
def test_settings_train_finitely(settings):
  step = jax.jit(functools.partial(steps.train_step, settings=steps.Settings(**settings)))
  n = 4 * settings.get('n_critic', 1)
  s, metrics = step(_state(), _batch(n))
  assert int(s.d.step) == settings.get('n_critic', 1) and int(s.g.step) == 1
  chex.assert_tree_all_finite((s.g.params, s.d.params, metrics))
  for name, key in [('gp_weight', 'gp'), ('r1_gamma', 'r1'), ('r2_gamma', 'r2')]:
    assert (key in metrics) == (name in settings)


def test_bad_batches_and_settings():
  with pytest.raises(ValueError, match='does not split into n_critic=3'):
    steps.train_step(_state(), _batch(8), settings=steps.Settings(n_critic=3))
  with pytest.raises(ValueError, match='under "image"'):
    steps.train_step(_state(), {'images': jnp.zeros((2, SIZE, SIZE, CH))})
  with pytest.raises(TypeError, match="unexpected keyword argument 'los'"):
    steps.Settings(los='hinge')
  with pytest.raises(ValueError, match='known losses'):
    steps.Settings(loss='hinje')
  with pytest.raises(ValueError, match='ema_decay'):
    steps.Settings(ema_decay=1.5)
  with pytest.raises(ValueError, match='need n_critic=1; got 2'):
    steps.Settings(simultaneous=True, n_critic=2)
  with pytest.raises(dataclasses.FrozenInstanceError):
    steps.Settings().loss = 'hinge'  # one value for the whole run


def test_generate_uses_ema_and_running_stats():
  step = jax.jit(functools.partial(steps.train_step, settings=steps.Settings(ema_decay=0.9)))
  s = _state()
  for i in range(3):
    s, _ = step(s, _batch(seed=i))
  z = jnp.asarray(np.random.default_rng(1).normal(size=(4, LATENT)), jnp.float32)
  ema, raw = steps.generate(s, z), steps.generate(s, z, use_ema=False)
  # Each is its own variables' inference output: the EMA's params and running statistics,
  # or G's (`--noema`).
  np.testing.assert_allclose(ema, G.apply(s.ema, z, train=False), rtol=1e-5, atol=1e-9)
  np.testing.assert_allclose(raw, G.apply(s.g.variables, z, train=False), rtol=1e-5, atol=1e-9)
  # Three steps at decay min(0.9, (1 + t) / (10 + t)): the EMA lags G (measured: by 5% of the
  # outputs' scale).
  assert np.abs(np.asarray(ema) - np.asarray(raw)).max() > 0.01 * np.abs(np.asarray(raw)).max()
  # Running statistics, not the batch's: a sample does not depend on the others drawn with it.
  np.testing.assert_allclose(steps.generate(s, z[:1]), ema[:1], rtol=1e-4, atol=1e-9)
  np.testing.assert_allclose(steps.generate(s, z[:1], use_ema=False), raw[:1], rtol=1e-4, atol=1e-9)


# ----- simultaneous updates, on a tiny MLP GAN -------------------------------------------------


TOY_G, TOY_D = helpers.TOY_G, helpers.TOY_D
TOY_TX = optax.adam(1e-2)


def _toy_state():
  # D's rate is large so that one D update moves G's gradient visibly.
  return helpers.toy_state(TOY_TX, optax.adam(0.1))


_points = helpers.toy_points


def test_simultaneous_g_update_reads_d_from_before_the_step():
  sequential = jax.jit(steps.train_step)
  simultaneous = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(simultaneous=True))
  )
  # One step first, so that Adam's moments are not zero: its first update is about
  # lr * sign(gradient) and would hardly tell two gradients apart.
  s0, _ = sequential(_toy_state(), _points(seed=1))
  batch = _points()
  seq, m_seq = sequential(s0, batch)
  sim, m_sim = simultaneous(s0, batch)
  chex.assert_trees_all_equal(sim.d, seq.d)  # D's update is the same in both modes
  for key in ('d_loss', 'd_real_logit', 'd_fake_logit', 'd_grad_norm'):
    assert m_sim[key] == m_seq[key], key
  # By hand: the step's latents, G's non-saturating loss against D's params `d_params`,
  # one Adam update of G from the state's optimizer state.
  z = jax.jit(lambda s: steps.sample_latent(s, steps._update_rngs(s, 0)[0], 16))(s0)

  def g_loss(g_params, d_params):
    fake = TOY_G.apply({'params': g_params}, z)
    return jnp.mean(jax.nn.softplus(-TOY_D.apply({'params': d_params}, fake)))

  @jax.jit
  def adam_update(d_params):
    loss, grads = jax.value_and_grad(g_loss)(s0.g.params, d_params)
    updates, _ = TOY_TX.update(grads, s0.g.opt_state, s0.g.params)
    return optax.apply_updates(s0.g.params, updates), loss

  at_old_d, loss_old_d = adam_update(s0.d.params)
  at_new_d, loss_new_d = adam_update(seq.d.params)
  chex.assert_trees_all_close(sim.g.params, at_old_d, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(seq.g.params, at_new_d, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(m_sim['g_loss'], loss_old_d, rtol=1e-5)
  np.testing.assert_allclose(m_seq['g_loss'], loss_new_d, rtol=1e-5)
  # The two modes give different Gs, by far more than the tolerance above.
  gap = max(jax.tree.leaves(jax.tree.map(lambda a, b: jnp.abs(a - b).max(), at_old_d, at_new_d)))
  assert gap > 1e-3, gap
