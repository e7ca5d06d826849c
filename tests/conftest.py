"""Test setup: 8 fake CPU devices, set before JAX is imported anywhere."""

import os

# XLA's backend optimisation level 1 instead of its default 3: the suite compiles hundreds of
# distinct programs and runs each a few steps. Measured on the smoke DCGAN, CycleGAN and pix2pix
# steps (3 alternating rounds, 2-core CPU, 2026-12-03): compiles 26% faster, the steps no slower
# (benchmarks/README.md, "The test suite"). Child processes the tests start inherit it.
os.environ['XLA_FLAGS'] = (
  os.environ.get('XLA_FLAGS', '')
  + ' --xla_force_host_platform_device_count=8 --xla_backend_optimization_level=1'
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# jaxgan's default XLA:CPU flag makes tiny models slower (benchmarks/README.md) and the suite
# is tiny models: off here; tests/test_runtime.py checks it in a fresh process.
os.environ.setdefault('JAXGAN_DEFAULT_XLA_FLAGS', '0')

# The suite's own cache (`<jaxgan cache>/tests`): the classifiers it trains under the options
# above have other weights than the ones a user's run trains, and a classifier FID is only
# comparable under one set of weights, so the suite must not fill the user's cache.
# A `JAXGAN_CACHE_DIR` set by hand is kept.
from jaxgan import cache  # noqa: E402

if not os.environ.get('JAXGAN_CACHE_DIR'):
  os.environ['JAXGAN_CACHE_DIR'] = os.path.join(cache.base(), 'tests')

# `import jaxgan` changes nothing global; the suite turns on JAX's compilation cache as the
# entry points do (the CLI and notebook processes the tests start call `configure` themselves).
from jaxgan import runtime  # noqa: E402

runtime.configure()
