"""Shared test helpers: loading experiment configs, running the trainer quickly, test images."""

import collections
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import configs, models
from jaxgan import state as state_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILES = sorted(
  os.path.relpath(os.path.join(d, f), ROOT)
  for d, _, files in os.walk(os.path.join(ROOT, 'experiments'))
  for f in files
  if f.endswith('.py')
)


def load_config(path: str, arg: str | None = None):
  return configs.load(os.path.join(ROOT, path), arg)


def smoke_config(
  path: str = 'experiments/dcgan/digits.py', *, keep_evals: bool = False, **overrides
):
  """The smoke variant on one device (8 fake CPU devices share 2 cores: slow).

  The config's quality evaluators (`config.evals`, the best checkpoint) are
  dropped unless `keep_evals`: tests/test_evaluation.py tests them.
  """
  config = load_config(path, 'smoke')
  config.num_devices = 1
  if not keep_evals:
    for name in list(config.evals):
      del config.evals[name]
    config.train.best_metric = ''
  for key, value in overrides.items():
    section, name = key.split('__')
    config[section][name] = value
  return config


def launch(args: list[str]) -> subprocess.Popen:
  """`python -m *args` from the repo root, output (both streams, unbuffered) on `.stdout`."""
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONUNBUFFERED='1')
  return subprocess.Popen(
    [sys.executable, '-m', *args],
    cwd=ROOT,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
  )


def random_images(n: int = 6, size: int = 16):
  """`[n, size, size, 3]` float32 images, uniform in [-1, 1], the same every call."""
  return jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (n, size, size, 3)), jnp.float32)


def convolution_dtypes(step, *args) -> collections.Counter:
  """How many convolutions of the jitted `step`'s program (lowered for `args`, StableHLO)
  give each element type: `{'bf16': 67}` for a half-precision pix2pix step."""
  text = step.lower(*args).as_text()
  return collections.Counter(re.findall(r'stablehlo\.convolution\(.*-> tensor<[^>]*x(\w+)>', text))


# A tiny 2-D GAN for step-level tests; one pair of modules, so that states compare equal.
TOY_G, TOY_D = models.create_models('mlp', dict(g_hidden=(8,), d_hidden=(8,), latent_dim=2))


def toy_state(g_tx, d_tx, g=TOY_G, d=TOY_D):
  """A 2-D MLP GAN (by default the tiny `TOY_G`, `TOY_D`; key 0, no EMA) with these optimizers."""
  return state_lib.create_gan_state(
    jax.random.key(0),
    generator=g,
    discriminator=d,
    g_tx=g_tx,
    d_tx=d_tx,
    g_inputs=[jnp.zeros((1, 2))],
    d_inputs=[jnp.zeros((1, 2))],
    latent_shape=(2,),
    use_ema=False,
  )


def toy_points(n=16, seed=0):
  """A batch of n standard-normal 2-D points."""
  return {'image': jnp.asarray(np.random.default_rng(seed).normal(size=(n, 2)), jnp.float32)}
