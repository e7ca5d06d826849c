"""JAX's persistent compilation cache, on by default in a per-user directory.

A second `make demo`, a resumed run, a notebook re-run or a repeated test
then loads the compiled train step instead of compiling it again (the smoke
DCGAN: 4.5 s cold, 0.8 s warm on the 2-core CPU, 2026-12-02). JAX keys each
entry by the computation, the compile options and the jax/jaxlib versions,
and an entry that cannot be read is compiled afresh with a warning.

`JAXGAN_COMPILATION_CACHE=0` turns it off, `JAXGAN_COMPILATION_CACHE=DIR`
moves it; a directory set through JAX itself (`JAX_COMPILATION_CACHE_DIR`,
`jax.config`) wins.

Bounded and shared safely: the directory is capped at
`JAXGAN_COMPILATION_CACHE_MAX_GB` (default 4; JAX then evicts the least
recently used entries), and setting a cap is also what makes JAX take a file
lock (`DIR/.lockfile`, the `filelock` package) around every read and write of
an entry. Without it (JAX's default, unbounded) JAX writes entries in place,
so a process starting beside another that is writing the same entry could
read half a file (JAX then warns and compiles afresh). With the lock, several
processes may share the directory: test workers, two runs, a notebook beside
a training run. Under `jax.distributed` only process 0 writes (JAX's rule).
A cap set through JAX (`JAX_COMPILATION_CACHE_MAX_SIZE`) wins.
"""

import os
import time
from collections.abc import Mapping

from jaxgan import cache

OPT = 'JAXGAN_COMPILATION_CACHE'
MAX_GB = 'JAXGAN_COMPILATION_CACHE_MAX_GB'
DEFAULT_MAX_GB = 4.0
OFF = ('0', 'off', 'false', 'no', 'none')


def max_bytes(environ: Mapping[str, str] = os.environ) -> int:
  """The cache's size cap in bytes from `JAXGAN_COMPILATION_CACHE_MAX_GB`.

  Raises:
    ValueError: for a value that is not a positive number of GiB.
  """
  setting = environ.get(MAX_GB, '') or str(DEFAULT_MAX_GB)
  try:
    gib = float(setting)
  except ValueError:
    gib = -1.0
  if not gib > 0 or gib == float('inf'):
    raise ValueError(f'{MAX_GB}={setting!r}: give a positive number of GiB, e.g. 4')
  return int(gib * 2**30)


def default_dir(environ: Mapping[str, str] = os.environ) -> str:
  return os.path.join(cache.base(environ), 'xla')


def enable(environ: Mapping[str, str] = os.environ) -> str | None:
  """Points JAX's compilation cache at the per-user directory; returns it (None: off)."""
  import jax

  setting = environ.get(OPT, '')
  if setting.lower() in OFF:
    return None
  directory = jax.config.jax_compilation_cache_dir
  if not directory:
    directory = setting or default_dir(environ)
    try:
      os.makedirs(directory, exist_ok=True)
    except OSError:
      return None  # a read-only home: run without the cache
    jax.config.update('jax_compilation_cache_dir', directory)
  if jax.config.jax_compilation_cache_max_size == -1:  # JAX's default: unbounded, no lock
    jax.config.update('jax_compilation_cache_max_size', max_bytes(environ))
    _add_access_times(directory)
  return directory


def _add_access_times(directory: str) -> None:
  """Gives entries written without a cap (no access-time file) one, stamped now.

  JAX's capped cache reads every entry's access time before each write and
  fails the write (a warning, no entry) on one without: a directory filled by
  an uncapped run (jaxgan before the cap, or JAX's default) would never gain
  entries again.
  """
  try:
    from jax._src import lru_cache  # the naming of JAX's cache files

    cache_suffix, atime_suffix = lru_cache._CACHE_SUFFIX, lru_cache._ATIME_SUFFIX
    names = set(os.listdir(directory))
  except (ImportError, AttributeError, OSError):
    return
  stamp = time.time_ns().to_bytes(8, 'little')
  for name in names:
    if name.endswith(cache_suffix):
      atime = name[: -len(cache_suffix)] + atime_suffix
      if atime not in names:
        try:
          with open(os.path.join(directory, atime), 'wb') as f:
            f.write(stamp)
        except OSError:
          return
