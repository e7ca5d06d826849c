"""Shared entry-point plumbing: runtime settings, quiet library logs, one-line user errors."""

import logging as std_logging
import os
import re
import sys
import traceback
from collections.abc import Callable

from absl import app, flags, logging

from jaxgan import configs, runtime, seeds, train
from jaxgan.errors import JaxganError

_NOISY = ('orbax', 'tensorstore', 'etils', 'xla_bridge')


def _keep(record: std_logging.LogRecord) -> bool:
  return record.levelno >= std_logging.WARNING or not any(n in record.pathname for n in _NOISY)


def _check_config_loaded() -> None:
  """config_flags defers a file's loading error until first use: surface it now."""
  try:
    flags.FLAGS['config'].value.keys()
  except JaxganError as e:
    sys.exit(f'error: {e}')
  except Exception as e:  # noqa: BLE001 - any loading failure of a user's file
    cause = e.__cause__ or e
    path = flags.FLAGS['config'].config_filename
    if os.environ.get('JAXGAN_TRACEBACK', '') not in ('', '0'):
      traceback.print_exception(cause)
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    message = configs.load_error(path, cause) or (
      f'cannot load --config={path}: {lines[-1] if lines else type(cause).__name__}'
    )
    sys.exit(f'error: {message}')


def _one_line(text: str) -> str:
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  return lines[0] if len(lines) < 2 else f'{lines[0]} {lines[-1]}'


def _config_path(argv: list[str]) -> str:
  """The file of `--config=FILE[:ARG]` in `argv` ('' : none)."""
  for arg in argv:
    if arg.startswith('--config='):
      value = arg[len('--config=') :]
      if ':' in os.path.basename(value):
        value = value.rsplit(':', 1)[0]
      return value
  return ''


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with config mistakes as one-line errors (exit status 1).

  A config file that fails to load (a syntax error, a failing import, an
  exception in `get_config`) is `error: cannot load --config=FILE: line N:
  message`; `JAXGAN_TRACEBACK=1` prints the full traceback before it.
  """
  try:
    argv = flags.FLAGS(argv)
    if 'config' in flags.FLAGS:
      _check_config_loaded()
    return argv
  except (flags.Error, JaxganError) as e:
    sys.exit(f'error: {_one_line(e)}')
  except Exception as e:  # noqa: BLE001 - sorted below: the user's file, or an unknown key
    path = _config_path(argv)
    message = configs.load_error(path, e) if path else None
    if message is None and not isinstance(e, AttributeError | KeyError):
      raise
    if os.environ.get('JAXGAN_TRACEBACK', '') not in ('', '0'):
      traceback.print_exc()
    if message is not None:
      sys.exit(f'error: {message}')
    # ml_collections: an unknown key in --config.a.b=v
    overrides = ' '.join(a.split('=')[0] for a in argv if a.startswith('--config.'))
    hint = re.search(r'Did you mean "([^"]+)"', str(e))
    hint = f' (did you mean {hint.group(1)!r}?)' if hint else ''
    sys.exit(f'error: unknown config key in {overrides}{hint}; see the config file for the keys')


def run_or_exit(fn: Callable[[], object]) -> None:
  """Runs `fn` with jaxgan's runtime settings (`runtime.configure`); a `JaxganError` prints
  `error: <message>` on stderr and exits with status 1."""
  runtime.configure()
  logging.get_absl_handler().addFilter(_keep)
  try:
    fn()
  except JaxganError as e:
    # Futures of a failed background write are reported again when collected: noise by now.
    std_logging.getLogger('asyncio').setLevel(std_logging.CRITICAL)
    sys.exit(f'error: {e}')


def train_main(config_flag, workdir_flag, entry: str) -> Callable:
  """An absl `main` that trains the configs whose game names `entry` as its entry point."""

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f'unexpected arguments: {argv[1:]}')

    def run():
      game = seeds.game_of(config_flag.value)
      if game.entry_point != entry:
        raise JaxganError(
          f'{entry} does not train {game.name!r} configs: use python -m {game.entry_point}'
        )
      train.train_and_evaluate(config_flag.value, workdir_flag.value)

    run_or_exit(run)

  return main
