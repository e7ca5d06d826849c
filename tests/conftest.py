"""Test setup: 8 fake CPU devices, set before JAX is imported anywhere."""

import os

os.environ['XLA_FLAGS'] = (
  os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# jaxgan's default XLA:CPU flag makes tiny models slower (benchmarks/README.md) and the suite
# is tiny models: off here; tests/test_xla_cpu.py checks it in a fresh process.
os.environ.setdefault('JAXGAN_DEFAULT_XLA_FLAGS', '0')
