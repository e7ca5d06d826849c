"""Test setup: 8 fake CPU devices, set before JAX is imported anywhere."""

import os

os.environ['XLA_FLAGS'] = (
  os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# jaxgan's default XLA:CPU flag makes tiny models slower (benchmarks/README.md) and the suite
# is tiny models: off here; tests/test_xla_cpu.py checks it in a fresh process.
os.environ.setdefault('JAXGAN_DEFAULT_XLA_FLAGS', '0')
# The suite's time is mostly XLA compiling tiny programs: skip most of XLA's optimisation
# passes (as JAX's own CI does); results agree to float rounding. Inherited by the
# processes tests launch (CLIs, notebooks). Runtime-heavy tests turn it back on
# (the `optimized_xla` fixture).
os.environ.setdefault('JAX_DISABLE_MOST_OPTIMIZATIONS', '1')


import pytest  # noqa: E402  (after the environment above)


@pytest.fixture
def optimized_xla():
  """XLA's optimisation passes on for one test: for tests that train for hundreds of steps,
  where running the compiled code costs more than compiling it."""
  from tests import helpers

  with helpers.optimized_xla():
    yield
