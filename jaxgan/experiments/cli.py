"""Shared entry-point plumbing: quiet library logs; user errors become one line and exit 1."""

import logging as std_logging
import sys
from collections.abc import Callable

from absl import logging

from jaxgan.errors import JaxganError

_NOISY = ('orbax', 'tensorstore', 'etils')


def _keep(record: std_logging.LogRecord) -> bool:
  return record.levelno >= std_logging.WARNING or not any(n in record.pathname for n in _NOISY)


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn`; a `JaxganError` prints `error: <message>` on stderr and exits with status 1."""
  logging.get_absl_handler().addFilter(_keep)
  try:
    fn()
  except JaxganError as e:
    sys.exit(f'error: {e}')
