"""The StyleGAN2 game (jaxgan/games/stylegan2.py): path length, lazy Adam, EMA half-life, the
step compiled per lazy phase, and a smoke run that trains, keeps ADA's p, the image count and
w_avg in its checkpoints, and resumes exactly; one device and eight agree."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import checkpoint, parallel, sample, seeds, train
from jaxgan.eval import offline
from jaxgan.games import stylegan2 as sg2_game
from tests.helpers import smoke_config


def test_path_lengths_equal_the_jacobian_by_hand():
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.normal(size=(3 * 5, 4 * 4)), jnp.float32)  # [num_ws * w_dim, pixels]

  def synthesize(ws):  # [B, 3, 5] -> [B, 4, 4, 1], nonlinear
    return jnp.tanh(ws.reshape(ws.shape[0], -1) @ a).reshape(-1, 4, 4, 1)

  ws = jnp.asarray(rng.normal(size=(2, 3, 5)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(2, 4, 4, 1)), jnp.float32) / 4.0
  lengths = sg2_game.path_lengths(synthesize, ws, y)
  for b in range(2):  # J^T y of example b, from the full Jacobian
    jac = jax.jacobian(lambda w, b=b: synthesize(w[None])[0].ravel())(ws[b])  # [16, 3, 5]
    jty = np.einsum('p,pij->ij', np.asarray(y[b]).ravel(), np.asarray(jac))
    expected = np.sqrt(np.mean(np.sum(jty**2, axis=1)))  # mean over layers of |.|^2
    np.testing.assert_allclose(lengths[b], expected, rtol=1e-5)
  penalty, mean = sg2_game.path_length_penalty(lengths, jnp.asarray(0.5), decay=0.01)
  np.testing.assert_allclose(mean, 0.5 + 0.01 * (np.mean(lengths) - 0.5), rtol=1e-6)
  np.testing.assert_allclose(penalty, np.mean((np.asarray(lengths) - mean) ** 2), rtol=1e-5)


def test_lazy_adam_adjusts_the_rate_and_betas_by_the_interval():
  params = {'w': jnp.zeros(3)}
  grads = {'w': jnp.asarray([1.0, -2.0, 0.5])}
  lazy = sg2_game.lazy_adam(0.0025, 0.0, 0.99, 1e-8, 16)
  c = 16 / 17
  plain = optax.adam(0.0025 * c, b1=0.0, b2=0.99**c, eps=1e-8)

  def three_updates(tx):
    state = tx.init(params)
    for i in range(3):
      updates, state = tx.update(jax.tree.map(lambda g, i=i: g * (i + 1), grads), state, params)
    return updates

  chex.assert_trees_all_close(three_updates(lazy), three_updates(plain), rtol=1e-6)
  assert not np.allclose(
    three_updates(lazy)['w'], three_updates(optax.adam(0.0025, 0.0, 0.99))['w']
  )
  lazy_updates = lazy.update(grads, lazy.init(params))[0]['w']
  np.testing.assert_allclose(np.abs(lazy_updates), 0.0025 * c, rtol=1e-4)  # Adam's first step


def test_ema_half_life_counts_images_and_ramps_up():
  beta = sg2_game.ema_beta(jnp.asarray(10**6), batch_size=64, ema_kimg=10.0, rampup=0.0)
  np.testing.assert_allclose(beta ** (10_000 / 64), 0.5, rtol=1e-5)  # half-life: 10k images
  early = sg2_game.ema_beta(jnp.asarray(6400), batch_size=64, ema_kimg=500.0, rampup=0.05)
  np.testing.assert_allclose(early ** (6400 * 0.05 / 64), 0.5, rtol=1e-5)  # capped by ramp-up


def _config(**overrides):
  config = smoke_config('experiments/stylegan2/digits.py')
  config.augment.p, config.augment.kimg = 0.2, 0.001  # p moves a lot each adjustment
  config.loss.r1_gamma, config.loss.r1_every = 1.0, 2
  config.loss.pl_weight, config.loss.pl_every, config.loss.style_mixing = 2.0, 2, 0.9
  config.train.checkpoint_every = 3
  for key, value in overrides.items():
    section, name = key.split('__')
    config[section][name] = value
  return config


def test_a_smoke_run_keeps_its_state_resumes_exactly_and_truncates(tmp_path, caplog):
  """One straight run, checked three ways in one test (its compilation is the cost: one test
  trains it on one xdist worker, where a shared fixture trained it once per worker)."""
  workdir = tmp_path / 'straight'
  state = train.train_and_evaluate(_config(), str(workdir))
  chex.assert_tree_all_finite(state)
  assert int(state.step) == 6 and int(state.extra['nimg']) == 6 * 8
  assert float(state.extra['ada'].p) != 0.2  # adjusted every 2 steps (smoke), not lost
  assert float(state.extra['pl_mean']) > 0  # the path-length penalty ran
  w_avg = state.g.collections['stats']['mapping']['w_avg']
  assert float(jnp.abs(w_avg).sum()) > 0  # G's mean w moved, and the EMA G holds it too
  np.testing.assert_array_equal(state.ema['stats']['mapping']['w_avg'], w_avg)
  _check_resume_keeps_p_and_is_exact(workdir, state, tmp_path / 'resumed', caplog)
  _check_truncation_and_the_sweep(workdir)


def _check_resume_keeps_p_and_is_exact(workdir, state, elsewhere, caplog):
  config = _config(train__num_steps=3)
  train.train_and_evaluate(config, str(elsewhere))
  with caplog.at_level('INFO'):
    resumed = train.train_and_evaluate(_config(), str(elsewhere))
  assert 'at step 3.' in caplog.text  # resumed, not retrained from 0
  chex.assert_trees_all_equal(jax.tree.leaves(resumed), jax.tree.leaves(state))
  restored = checkpoint.Checkpointer(str(workdir), create=False).restore(
    seeds.game_of(config).create_state(_config())
  )
  assert float(restored.extra['ada'].p) == float(state.extra['ada'].p)


def test_one_and_eight_devices_agree(tmp_path):
  """The main losses and ADA on one device and sharded over eight (the regularisers, which
  the straight run above covers, are off: the eight-device program compiles faster)."""
  small = dict(loss__r1_gamma=0.0, loss__pl_weight=0.0, augment__pipe='bg', train__num_steps=2)
  one = train.train_and_evaluate(_config(**small), str(tmp_path / 'one'))
  config = _config(**small)
  config.num_devices = 8
  eight = train.train_and_evaluate(config, str(tmp_path / 'eight'))
  assert len(eight.g.step.sharding.device_set) == 8
  moved = lambda new: jax.tree.map(jnp.subtract, new, _initial(config).g.params)
  # Adam with b1 = 0 moves each weight by about the learning rate (2.5e-3): atol 1e-5 is 0.4%.
  chex.assert_trees_all_close(moved(eight.g.params), moved(one.g.params), rtol=1e-3, atol=1e-5)
  chex.assert_trees_all_close(eight.d.params, one.d.params, rtol=1e-3, atol=1e-5)
  assert float(eight.extra['ada'].p) == float(one.extra['ada'].p)


def test_the_step_of_each_lazy_phase_equals_the_step_that_decides_on_the_device():
  """The trainer compiles one step per phase (`parallel.PhasedStep`); each must be the step
  that reads `state.step` on the device (`xla_cpu.cond`), for the update it is chosen for."""
  # R1 every 2 steps; path length and ADA off (the smoke run below trains with them through the
  # same dispatch): three compilations of the step (on the device, and one per phase) are this
  # test's cost.
  config = _config(loss__pl_weight=0.0, augment__mode='none')
  game = seeds.game_of(config)
  state = _initial(config)
  batch = {'image': jax.random.uniform(jax.random.key(1), (8, 32, 32, 1), minval=-1.0)}
  decided = jax.jit(game.step_fn(config))
  steps = parallel.DataParallel(config.parallel, 1).compile_phased(game, config)
  for index, phase in ((0, (False, True)), (1, (False, False))):
    assert game.step_phase(config, index) == phase
    at = state.replace(step=jnp.asarray(index, state.step.dtype))
    want, want_metrics = decided(at, batch)
    got, got_metrics = steps(jax.tree.map(jnp.copy, at), batch, index)  # it donates the state
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(got_metrics, want_metrics, rtol=1e-5, atol=1e-6)
  assert float(got_metrics['r1']) == 0.0 and float(want_metrics['r1']) == 0.0  # skipped at 1
  assert float(decided(state, batch)[1]['r1']) > 0.0  # and run at 0
  # The trainer's dispatch: one compiled step per phase, chosen by the index it is given.
  for index in range(5):
    steps.get(index, state, batch)
  assert set(steps.compiled) == {(False, True), (False, False)}
  assert game.step_phase(_config(), 4) == (True, True)  # path length on: its phase too
  assert steps.get(4, state, batch) is steps.get(0, state, batch)


def _initial(config):
  return seeds.game_of(config).create_state(config)


def _check_truncation_and_the_sweep(workdir):
  """psi 0 maps every latent to w_avg (one image, n times); psi 1 is no truncation; the
  evaluate sweep measures each psi against the same reference."""
  at = lambda psi: np.load(
    sample.sample_from_workdir(str(workdir), n=3, fmt='npy', truncation=psi, output='')
  )
  mean_image = at(0.0)
  np.testing.assert_allclose(mean_image[0], mean_image[1], atol=1e-5)
  np.testing.assert_allclose(at(1.0), at(None), atol=1e-5)
  assert not np.allclose(at(0.5)[0], at(0.5)[1])
  result = offline.evaluate_workdir(
    str(workdir), features='classifier', metrics='fid', n=8, truncation=(0.5, 1.0), progress=False
  )
  assert [row['truncation'] for row in result['sweep']] == [0.5, 1.0]
  assert result['sweep'][0]['metrics']['fid'] != result['sweep'][1]['metrics']['fid']
