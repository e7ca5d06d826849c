"""DCGAN/MLP shapes, parameter counts pinned to the PyTorch reference, registry errors."""

import functools

import chex
import jax
import jax.numpy as jnp
import pytest

from jaxgan import models
from jaxgan import state as state_lib
from jaxgan.models import cyclegan as cg
from jaxgan.models import dcgan, mlp
from jaxgan.state import count_params

# Counted from a PyTorch build of the reference DCGAN (nz 100, ngf = ndf = 64):
# G ConvTranspose2d/BatchNorm2d stack, D Conv2d/BatchNorm2d stack, bias=False.
PYTORCH_COUNTS = {
  (64, 3): (3_576_704, 2_765_568),
  (32, 1): (1_066_880, 661_248),
}


def _params(module, x):
  return jax.eval_shape(lambda: module.init(jax.random.key(0), x, train=False))['params']


@pytest.mark.parametrize('size,channels', sorted(PYTORCH_COUNTS))
def test_dcgan_parameter_counts_match_pytorch(size, channels):
  g, d = models.create_models('dcgan', dict(size=size, channels=channels, width=64, latent_dim=100))
  g_count = count_params(_params(g, jnp.zeros((1, 100))))
  d_count = count_params(_params(d, jnp.zeros((1, size, size, channels))))
  assert (g_count, d_count) == PYTORCH_COUNTS[(size, channels)]


@pytest.mark.parametrize('size', [16, 28, 32, 48, 64, 128])
def test_dcgan_shapes(size):
  g, d = models.create_models('dcgan', dict(size=size, channels=2, width=4, latent_dim=8))

  # Compiled, not eager (eagerly every operation compiles on its own: 60-86 programs a size).
  z = jnp.ones((3, 8))
  g_vars = state_lib.init_variables(g, jax.random.key(0), [z])
  images = jax.jit(functools.partial(g.apply, train=False))(g_vars, z)
  d_vars = state_lib.init_variables(d, jax.random.key(1), [images])
  logits = jax.jit(functools.partial(d.apply, train=False))(d_vars, images)
  chex.assert_shape(images, (3, size, size, 2))
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  chex.assert_shape(logits, (3,))
  assert 'batch_stats' in g_vars and 'batch_stats' in d_vars


def test_dcgan_base_and_levels():
  assert dcgan.base_and_levels(64) == (4, 4)
  assert dcgan.base_and_levels(28) == (7, 2)
  for bad in (8, 100, 256):
    with pytest.raises(ValueError, match='DCGAN image size'):
      dcgan.base_and_levels(bad)


def test_wrong_input_shapes_are_clear_errors():
  g, d = models.create_models('dcgan', dict(size=16, channels=1, width=4, latent_dim=8))
  with pytest.raises(ValueError, match=r'wants z \[B, 8\]'):
    g.init(jax.random.key(0), jnp.zeros((2, 7)), train=False)
  with pytest.raises(ValueError, match=r'wants images \[B, 16, 16, 1\]'):
    d.init(jax.random.key(0), jnp.zeros((2, 16, 16, 3)), train=False)


def test_mlp_pair():
  g, d = models.create_models('mlp', dict(latent_dim=3, g_hidden=[16], d_hidden=[16]))
  z = jnp.ones((4, 3))

  @jax.jit
  def both():
    x = g.apply(g.init(jax.random.key(0), z, train=False), z, train=False)
    return x, d.apply(d.init(jax.random.key(0), x), x)

  x, logits = both()
  chex.assert_shape(x, (4, 2))
  chex.assert_shape(logits, (4,))


def test_registry_errors():
  with pytest.raises(ValueError, match='known models: biggan, dcgan, mlp'):
    models.create_models('stylegan9')
  with pytest.raises(ValueError, match='takes no argument.*widht'):
    models.create_models('dcgan', dict(widht=3))


@pytest.mark.parametrize(
  'module,shape',
  [
    (cg.ResnetGenerator(features=4, num_blocks=1), (2, 16, 16, 3)),
    (cg.PatchDiscriminator(features=4, num_layers=2), (2, 32, 32, 3)),
    (cg.PatchDiscriminator(features=4, num_layers=2, norm='batch'), (2, 32, 32, 6)),
    (cg.UnetGenerator(features=4, num_downs=3), (2, 16, 16, 3)),
    (mlp.Generator(hidden=(16,), batchnorm=True), (8, 2)),
    (mlp.Discriminator(hidden=(16,)), (8, 2)),
  ],
)
def test_bfloat16_dtype_changes_the_compute_not_the_params(module, shape):
  x = jax.random.normal(jax.random.key(0), shape)
  half = module.clone(dtype=jnp.bfloat16)
  variables = state_lib.init_variables(module, jax.random.key(1), [x])
  half_variables = jax.eval_shape(lambda: half.init(jax.random.key(1), x, train=False))
  assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(half_variables))
  full, low = (
    jax.jit(lambda v, m=m: m.apply(v, x, train=False))(variables) for m in (module, half)
  )
  assert low.dtype == jnp.float32  # outputs come back in float32
  error = float(jnp.max(jnp.abs(low - full)) / (jnp.max(jnp.abs(full)) + 1e-6))
  assert 1e-6 < error < 0.1  # bfloat16 rounding: computed in it, not ignored
