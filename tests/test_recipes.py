"""The recipes' pieces: spectral norm, lazy R1 and the Dirac-GAN check of R1, conditioning, BEGAN.

DiffAugment is in tests/test_augment.py; sampling a conditional run by class in
tests/test_sample.py.
"""

import functools
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import games, losses, models, recipes, steps, train
from jaxgan import state as state_lib
from jaxgan.errors import ConfigError
from jaxgan.games import gan
from tests import helpers

# ----- spectral normalisation ------------------------------------------------------------------


@pytest.mark.parametrize(
  'name, kwargs, shape',
  [
    ('mlp', dict(d_hidden=(16, 16), d_norm='spectral'), (4, 2)),
    ('dcgan', dict(size=16, channels=1, width=4, latent_dim=4, d_norm='spectral'), (4, 16, 16, 1)),
  ],
)
def test_spectral_norm_estimates_the_largest_singular_value(name, kwargs, shape):
  _, d = models.create_models(name, kwargs)
  variables = state_lib.init_variables(d, jax.random.key(0), [jnp.zeros((1, *shape[1:]))])
  stats = variables['batch_stats']
  x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
  call = jax.jit(
    lambda stats: d.apply(
      {'params': variables['params'], 'batch_stats': stats}, x, train=True, mutable=['batch_stats']
    )[1]['batch_stats']
  )
  for _ in range(300):  # power iterations: one per training-mode call
    stats = call(stats)
  checked = 0
  for layer_stats in stats.values():
    for key, sigma in layer_stats.items():
      if not key.endswith('/sigma'):
        continue
      kernel = variables['params'][key.split('/')[0]]['kernel']
      matrix = np.asarray(kernel).reshape(-1, kernel.shape[-1])
      np.testing.assert_allclose(
        float(sigma), np.linalg.svd(matrix, compute_uv=False)[0], rtol=1e-3
      )
      checked += 1
  assert checked >= 3
  # Inference reads the stored estimate and leaves it as is.
  _, unchanged = d.apply(
    {'params': variables['params'], 'batch_stats': stats}, x, train=False, mutable=['batch_stats']
  )
  jax.tree.map(np.testing.assert_array_equal, unchanged['batch_stats'], stats)


def test_spectral_norm_trains_and_bad_norm_is_refused():
  g, d = models.create_models(
    'dcgan', dict(size=16, channels=1, width=4, latent_dim=4, d_norm='spectral')
  )
  state = state_lib.create_gan_state(
    jax.random.key(0),
    generator=g,
    discriminator=d,
    g_tx=optax.adam(1e-3),
    d_tx=optax.adam(1e-3),
    g_inputs=[jnp.zeros((1, 4))],
    d_inputs=[jnp.zeros((1, 16, 16, 1))],
    latent_shape=(4,),
  )
  assert 'batch_stats' in state.d.collections  # u and sigma are D's state, checkpointed with it
  batch = {'image': jnp.zeros((8, 16, 16, 1))}
  new, metrics = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(loss='hinge'))
  )(state, batch)
  assert np.isfinite(float(metrics['d_loss']))
  changed = jax.tree.map(
    lambda a, b: not np.array_equal(a, b), state.d.collections, new.d.collections
  )
  assert any(jax.tree.leaves(changed))
  with pytest.raises(ValueError, match="unknown config.model.d_norm 'spectal'"):
    models.create_models('dcgan', dict(d_norm='spectal'))


# ----- lazy R1 and the Dirac-GAN ---------------------------------------------------------------


class _Theta(nn.Module):
  """Dirac-GAN generator: every sample is the parameter theta."""

  @nn.compact
  def __call__(self, z, train=True):
    theta = self.param('theta', nn.initializers.constant(1.0), (1,))
    return jnp.broadcast_to(theta, (z.shape[0], 1))


class _Psi(nn.Module):
  """Dirac-GAN discriminator: D(x) = psi * x."""

  @nn.compact
  def __call__(self, x, train=True):
    psi = self.param('psi', nn.initializers.constant(1.0), (1,))
    return psi[0] * x[:, 0]


def _dirac_state(lr=0.1):
  return state_lib.create_gan_state(
    jax.random.key(0),
    generator=_Theta(),
    discriminator=_Psi(),
    g_tx=optax.sgd(lr),
    d_tx=optax.sgd(lr),
    g_inputs=[jnp.zeros((1, 1))],
    d_inputs=[jnp.zeros((1, 1))],
    latent_shape=(1,),
    use_ema=False,
  )


def _dirac_distance(steps_: int, **settings) -> np.ndarray:
  """|(theta, psi)| along alternating updates on data at 0 (Mescheder et al. 2018)."""
  step = functools.partial(steps.train_step, settings=steps.Settings(**settings))
  batch = {'image': jnp.zeros((4, 1))}

  def body(state, _):
    state, _ = step(state, batch)
    norm = jnp.sqrt(state.g.params['theta'][0] ** 2 + state.d.params['psi'][0] ** 2)
    return state, norm

  return np.asarray(jax.jit(lambda s: jax.lax.scan(body, s, length=steps_)[1])(_dirac_state()))


def test_dirac_gan_circles_without_r1_and_converges_with_it():
  """The paper's game (the minimax loss): alternating GD circles; with R1 it converges.

  (The non-saturating loss spirals in slowly here: 1.41 -> 0.14 in 4,000 steps.)
  """
  start = np.sqrt(2.0)
  plain = _dirac_distance(2000, loss='minimax')
  assert plain[-500:].min() > 0.9 * start  # no convergence to (0, 0)
  r1 = _dirac_distance(2000, loss='minimax', r1_gamma=1.0)
  assert r1[-1] < 1e-3 * start
  lazy = _dirac_distance(2000, loss='minimax', r1_gamma=1.0, r1_every=4)  # every 4 steps, x 4
  assert lazy[-1] < 1e-3 * start


def test_lazy_r1_is_a_scaled_extra_update_on_its_steps_only():
  x = jnp.ones((4, 1))
  state = _dirac_state()
  step = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(r1_gamma=2.0, r1_every=3))
  )
  plain = jax.jit(steps.train_step)
  at = lambda n: state.replace(step=jnp.asarray(n, jnp.int32))
  for n in (0, 1):
    lazy, metrics = step(at(n), {'image': x})
    base, _ = plain(at(n), {'image': x})
    psi, psi_plain = float(lazy.d.params['psi'][0]), float(base.d.params['psi'][0])
    if n == 0:
      # d/dpsi of gamma / 2 * k * psi^2 = 2 * 3 * psi: one SGD step of lr 0.1 on it.
      np.testing.assert_allclose(psi, psi_plain - 0.1 * 6.0 * psi_plain, rtol=1e-5)
      np.testing.assert_allclose(metrics['r1'], psi_plain**2, rtol=1e-5)
    else:
      assert psi == psi_plain and float(metrics['r1']) == 0.0
  with pytest.raises(ValueError, match='r1_every must be >= 1'):
    steps.Settings(r1_every=0)


# ----- every recipe config trains ---------------------------------------------------------------


@pytest.mark.parametrize(
  'name', sorted(set(recipes.RECIPES) - {'dcgan'})
)  # dcgan: the demo's tests
def test_recipe_config_trains(name, tmp_path):
  config = helpers.smoke_config(f'experiments/recipes/{name}.py')
  config.train.num_steps = 2
  config.train.checkpoint_every = config.train.sample_every = 2
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 2
  assert os.path.exists(tmp_path / 'samples' / 'final.png')
  with pytest.raises(ConfigError, match="unknown recipe 'sngn'"):
    recipes.apply(config, 'sngn')


# ----- class-conditional GANs --------------------------------------------------------------------


def test_conditioning_on_vectors_and_acgan():
  g, d = models.create_models('dcgan', dict(size=16, channels=1, width=4, latent_dim=4, cond_dim=3))
  z, c = jnp.zeros((2, 4)), jnp.ones((2, 3))
  gv = state_lib.init_variables(g, jax.random.key(0), [z, c])

  @jax.jit
  def run(gv):
    x, other = g.apply(gv, z, c, train=False), g.apply(gv, z, -c, train=False)
    return x, other, d.apply(d.init(jax.random.key(1), x, c, train=False), x, c, train=False)

  x, other, logits = run(gv)
  assert x.shape == (2, 16, 16, 1) and logits.shape == (2,)
  assert not np.allclose(x, other)  # the vector condition changes the sample
  with pytest.raises(ValueError, match='needs a condition'):
    g.apply(gv, z, train=False)
  _, acgan = models.create_models(
    'dcgan', dict(size=16, channels=1, width=4, latent_dim=4, num_classes=5, d_cond='acgan')
  )
  labels = jnp.array([0, 4])
  logits, class_logits = jax.jit(
    lambda: acgan.apply(
      acgan.init(jax.random.key(2), x, labels, train=False), x, labels, train=False
    )
  )()
  assert logits.shape == (2,) and class_logits.shape == (2, 5)
  with pytest.raises(ValueError, match="'acgan' predicts class ids"):
    models.create_models('dcgan', dict(cond_dim=3, d_cond='acgan'))


def test_acgan_step_trains_both_class_losses():
  """The class loss trains D's class head and reaches G through the fakes."""
  g, d = models.create_models(
    'dcgan', dict(size=16, channels=1, width=4, latent_dim=4, num_classes=3, d_cond='acgan')
  )

  def create(d_tx):
    return state_lib.create_gan_state(
      jax.random.key(0),
      generator=g,
      discriminator=d,
      g_tx=optax.adam(1e-3),
      d_tx=d_tx,
      g_inputs=[jnp.zeros((1, 4)), jnp.zeros((1,), jnp.int32)],
      d_inputs=[jnp.zeros((1, 16, 16, 1)), jnp.zeros((1,), jnp.int32)],
      latent_shape=(4,),
    )

  # Class k: a bright band across the k-th third of a dark image.
  labels = jnp.array([0, 1, 2, 0, 1, 2])
  bands = np.arange(16)[None, :, None, None] // 6 == np.asarray(labels)[:, None, None, None]
  batch = {
    'image': jnp.asarray(np.broadcast_to(np.where(bands, 1.0, -1.0), (6, 16, 16, 1))),
    'label': labels,
  }
  step = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(conditional=True, aux_weight=0.5))
  )

  def train(state, n=20):
    history = []
    for _ in range(n):
      state, metrics = step(state, batch)
      history.append(jax.device_get(metrics))
    return [m['d_aux'] for m in history], [m['g_aux'] for m in history]

  # D learns the classes: its cross-entropy on reals and fakes falls (measured: 8.9 to 0.68 in
  # 20 steps; to 7.7 with the class loss left out of D's objective).
  d_aux, _ = train(create(optax.adam(1e-3)))
  assert d_aux[-1] < 0.2 * d_aux[0], d_aux
  # Against a D that does not learn, only G can lower the fakes' class loss: it does (measured:
  # 1.31 to 0.75 over the last 4 steps; 2.6 with the class loss left out of G's objective).
  _, g_aux = train(create(optax.sgd(0.0)))
  assert np.mean(g_aux[-4:]) < 0.8 * g_aux[0], g_aux
  with pytest.raises(ValueError, match='needs "label"'):
    step(create(optax.adam(1e-3)), {'image': batch['image']})


# ----- BEGAN -------------------------------------------------------------------------------------


def test_began_losses_closed_form():
  real, fake = jnp.array([0.2, 0.4]), jnp.array([0.1, 0.3])
  loss = losses.get_adversarial_loss('began')
  assert loss.equilibrium
  np.testing.assert_allclose(loss.d(real, fake, 0.25), [0.2 - 0.025, 0.4 - 0.075], rtol=1e-6)
  np.testing.assert_allclose(loss.g(real, fake), fake)
  # k + lambda (gamma L(x) - L(G(z))), clipped to [0, 1].
  k = losses.began_k_update(jnp.float32(0.5), 0.3, 0.1, gamma=0.5, lambda_k=0.1)
  np.testing.assert_allclose(k, 0.5 + 0.1 * (0.15 - 0.1), rtol=1e-6)
  assert float(losses.began_k_update(jnp.float32(0.0), 0.1, 0.9, gamma=0.5, lambda_k=1.0)) == 0.0
  assert float(losses.began_k_update(jnp.float32(0.9), 0.9, 0.0, gamma=1.0, lambda_k=1.0)) == 1.0
  np.testing.assert_allclose(
    losses.began_convergence(0.3, 0.4, gamma=0.5), 0.3 + abs(0.15 - 0.4), rtol=1e-6
  )


def _began_state(k: float):
  g, d = models.create_models(
    'dcgan',
    dict(size=16, channels=1, width=4, latent_dim=4, d_arch='autoencoder', d_norm='none'),
  )
  return state_lib.create_gan_state(
    jax.random.key(0),
    generator=g,
    discriminator=d,
    g_tx=optax.sgd(0.1),
    d_tx=optax.sgd(0.1),
    g_inputs=[jnp.zeros((1, 4))],
    d_inputs=[jnp.zeros((1, 16, 16, 1))],
    latent_shape=(4,),
    use_ema=False,
    extra={'began_k': jnp.float32(k)},
  )


def test_began_step_weighs_fakes_by_k_and_updates_k():
  state = _began_state(0.3)
  real = jnp.asarray(helpers.random_images(6)[..., :1])
  # D's output is the L1 reconstruction error of each example.
  recon = state.d.apply_fn(state.d.variables, real, train=False, reconstruct=True)
  errors = state.d.apply_fn(state.d.variables, real, train=False)
  np.testing.assert_allclose(errors, np.abs(recon - real).mean(axis=(1, 2, 3)), rtol=1e-5)
  step = jax.jit(
    functools.partial(
      steps.train_step, settings=steps.Settings(loss='began', began_gamma=0.5, began_lambda_k=0.2)
    )
  )
  new, m = step(state, {'image': real})
  np.testing.assert_allclose(m['d_loss'], m['d_real_logit'] - 0.3 * m['d_fake_logit'], rtol=1e-5)
  expected_k = 0.3 + 0.2 * (0.5 * m['d_real_logit'] - m['d_fake_logit'])
  np.testing.assert_allclose(new.extra['began_k'], expected_k, rtol=1e-5)
  np.testing.assert_allclose(m['began_k'], expected_k, rtol=1e-5)
  np.testing.assert_allclose(
    m['convergence'], m['d_real_logit'] + abs(0.5 * m['d_real_logit'] - m['d_fake_logit'])
  )
  # k = 0: D only learns to reconstruct real data; its loss has no fake term.
  zero, m0 = step(_began_state(0.0), {'image': real})
  np.testing.assert_allclose(m0['d_loss'], m0['d_real_logit'], rtol=1e-6)
  with pytest.raises(ValueError, match='needs k_t'):
    step(state.replace(extra={}), {'image': real})


def test_began_resumes_exactly_with_k_in_the_checkpoint(tmp_path, caplog):
  caplog.set_level('INFO', logger='absl')

  def config(num_steps):
    c = helpers.smoke_config('experiments/recipes/began.py')
    c.loss.began_lambda_k = 0.5  # k moves visibly within a few steps
    c.train.num_steps = num_steps
    return c

  straight = train.train_and_evaluate(config(4), str(tmp_path / 'one'))
  train.train_and_evaluate(config(2), str(tmp_path / 'two'))
  resumed = train.train_and_evaluate(config(4), str(tmp_path / 'two'))
  # From the step-2 checkpoint, k_t with it (retrained from 0, the run would end the same).
  assert f'Resumed from {tmp_path / "two" / "checkpoints"} at step 2.' in caplog.text
  assert float(straight.extra['began_k']) > 0.0
  np.testing.assert_array_equal(straight.extra['began_k'], resumed.extra['began_k'])
  for a, b in zip(
    jax.tree.leaves(straight.d.params), jax.tree.leaves(resumed.d.params), strict=True
  ):
    np.testing.assert_array_equal(a, b)
  log = [json.loads(line) for line in open(tmp_path / 'one' / 'metrics.jsonl')]
  assert any('began_k' in r and 'convergence' in r for r in log)


def test_began_config_errors():
  config = helpers.smoke_config('experiments/recipes/began.py')
  config.model.d_arch = 'dcgan'
  with pytest.raises(ConfigError, match="config.loss.name='began' with config.model.d_arch"):
    gan.GAME.validate(config)
  config = helpers.smoke_config('experiments/recipes/began.py')
  config.model.d_norm = 'batch'
  with pytest.raises(ConfigError, match="d_norm 'none'"):
    gan.GAME.create_state(config)
  config.model.d_norm, config.model.num_classes = 'none', 10
  with pytest.raises(ConfigError, match='takes no config.model.num_classes'):
    gan.GAME.create_state(config)
  config = helpers.smoke_config('experiments/cyclegan/digits.py')
  config.loss.name = 'began'
  with pytest.raises(ConfigError, match='not usable by CycleGAN'):
    games.get(config.game).validate(config)
