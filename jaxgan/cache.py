"""The per-user cache directory: compiled steps, network weights, reference statistics.

`$JAXGAN_CACHE_DIR`, else `$XDG_CACHE_HOME/jaxgan`, else `~/.cache/jaxgan`.
Everything in it can be deleted; it is made again on use.
"""

import os
from collections.abc import Mapping


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
