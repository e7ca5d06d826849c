"""The process-wide settings jaxgan's entry points make: XLA:CPU flags and the compilation cache.

`import jaxgan` changes nothing global. The entry points (`python -m
jaxgan.experiments.*`, `python -m jaxgan.bench`, `python -m jaxgan.soak`)
call `configure()` before their first JAX computation; a notebook or a
program of your own calls it once, at its top, to train as fast as they do:

  import jaxgan.runtime
  jaxgan.runtime.configure()

It adds the measured XLA:CPU flags (`jaxgan/xla_cpu.py`; they take effect
only if JAX's CPU backend has not started yet) and turns on JAX's persistent
compilation cache in the per-user cache directory (`jaxgan/compile_cache.py`).
`JAXGAN_DEFAULT_XLA_FLAGS=0` and `JAXGAN_COMPILATION_CACHE=0` turn each off.
"""

import os
from collections.abc import MutableMapping

from jaxgan import compile_cache, xla_cpu


def configure(environ: MutableMapping[str, str] = os.environ) -> dict[str, object]:
  """Adds jaxgan's XLA flags and turns on the compilation cache; returns what it set.

  Returns:
    `{'xla_flags': [flags added], 'compilation_cache': directory or None (off)}`.
  """
  added = xla_cpu.add_default_flags(environ)
  directory = compile_cache.enable(environ)
  return {'xla_flags': added, 'compilation_cache': directory}
