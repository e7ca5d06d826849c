"""Shared entry-point plumbing: runtime settings, quiet library logs, one-line user errors."""

import logging as std_logging
import re
import sys
from collections.abc import Callable

from absl import app, flags, logging

from jaxgan import runtime, seeds, train
from jaxgan.errors import JaxganError

_NOISY = ('orbax', 'tensorstore', 'etils')


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
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    sys.exit(
      f'error: cannot load --config={flags.FLAGS["config"].config_filename}: '
      f'{lines[-1] if lines else type(cause).__name__}'
    )


def _one_line(text: str) -> str:
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  return lines[0] if len(lines) < 2 else f'{lines[0]} {lines[-1]}'


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with config mistakes as one-line errors (exit status 1)."""
  try:
    argv = flags.FLAGS(argv)
    if 'config' in flags.FLAGS:
      _check_config_loaded()
    return argv
  except (flags.Error, JaxganError) as e:
    sys.exit(f'error: {_one_line(e)}')
  except (AttributeError, KeyError) as e:  # ml_collections: unknown key in --config.a.b=v
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
