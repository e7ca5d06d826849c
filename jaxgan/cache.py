"""The per-user cache directory: compiled steps, network weights, reference statistics.

`$JAXGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/jaxgan`, else `~/.cache/jaxgan`.
Everything in it can be deleted; it is made again on use.
"""

import os
import tempfile
from collections.abc import Callable, Mapping


def base(environ: Mapping[str, str] = os.environ) -> str:
  if environ.get('JAXGAN_CACHE_DIR'):
    return environ['JAXGAN_CACHE_DIR']
  root = environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(root, 'jaxgan')


def directory(*parts: str, environ: Mapping[str, str] = os.environ) -> str:
  """`base()/parts...`, created."""
  path = os.path.join(base(environ), *parts)
  os.makedirs(path, exist_ok=True)
  return path


def write_atomically(path: str, write: Callable[[str], None]) -> str:
  """`write(tmp)` to a temporary file beside `path`, then renamed over it.

  Several processes filling the same cache entry at once (the processes of one
  run, two test workers) each write their own file; readers never see a partial one.
  """
  fd, tmp = tempfile.mkstemp(
    dir=os.path.dirname(path), prefix='.tmp-', suffix=os.path.basename(path)
  )
  os.close(fd)
  try:
    write(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path
