"""Configs as a user meets them: loading a file, the `:smoke` shrink, and validation for any game.

Config files in `experiments/` start from a game's base config
(`jaxgan/games/<game>.py`, built on `schema.base()`) and change what differs;
`finalize(config, arg)` applies the config argument (`:smoke`); `validate`
checks a config of any game (the trainer calls it at start-up): the shared
sections (`schema.check_values` and the train/eval/data rules here), then the
game's own `validate`.
"""

import importlib.util
import os
import traceback

import ml_collections

from jaxgan import errors, schema, seeds
from jaxgan.schema import range_error

ConfigDict = ml_collections.ConfigDict


def smoke(config: ConfigDict) -> ConfigDict:
  """Shrinks any config to a seconds-long CPU run: shared settings here, sizes by its game."""
  config.train.num_steps = 6
  config.train.batch_size = 8 * config.loss.get('n_critic', 1)
  config.train.log_every = 2
  config.train.sample_every = 3
  config.train.checkpoint_every = 3
  config.train.progress = False
  config.eval.num_samples = 16
  config.eval.interpolation_rows = 2
  config.eval.interpolation_steps = 4
  for section in config.get('evals', {}).values():  # once, at the end, on 64 samples
    section.n, section.every = min(section.get('n', 64), 64), 0
  config.data.num_threads = 1
  return seeds.game_of(config).smoke(config)


def load(path: str, arg: str | None = None) -> ConfigDict:
  """The config of an `experiments/` file, as `--config=path[:arg]` gives it (for notebooks, code).

  `load('experiments/dcgan/digits.py:smoke')` and `load('experiments/dcgan/digits.py',
  'smoke')` are the same. Raises ConfigError for a missing file or one without `get_config`.
  """
  if arg is None and ':' in os.path.basename(path):
    path, arg = path.rsplit(':', 1)
  if not os.path.isfile(path):
    raise errors.ConfigError(f'no config file {path!r}')
  try:
    spec = importlib.util.spec_from_file_location(f'_jaxgan_config_{abs(hash(path))}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, 'get_config'):
      raise errors.ConfigError(f'{path} defines no get_config(arg=None)')
    return module.get_config(arg)
  except errors.JaxganError:
    raise
  except Exception as e:  # noqa: BLE001 - any failure of a user's file, said in one line
    message = load_error(path, e)
    if message is None:
      raise
    raise errors.ConfigError(message) from e


def load_error(path: str, error: BaseException) -> str | None:
  """`cannot load --config=PATH: line N: Type: message` when `error` came from the file `path`
  (a syntax error in it, or an exception raised by its code, imports included); else None.
  """
  path = os.path.abspath(path)
  line = None
  if isinstance(error, SyntaxError) and error.filename and os.path.abspath(error.filename) == path:
    line, text = error.lineno, f'SyntaxError: {error.msg}'
  else:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if not frames:
      return None
    line = frames[-1].lineno
    detail = ' '.join(str(error).split())
    text = f'{type(error).__name__}: {detail}' if detail else type(error).__name__
  return f'cannot load --config={path}: line {line}: {text}'


def finalize(config: ConfigDict, arg: str | None) -> ConfigDict:
  """Applies the config argument (None or 'smoke'); the trainer validates at start-up."""
  if arg not in (None, '', 'smoke'):
    raise errors.ConfigError(f"unknown config argument {arg!r}; known: 'smoke'")
  if arg == 'smoke':
    config = smoke(config)
  return config


def validate(config: ConfigDict) -> None:
  """Checks values that types alone do not, for every game; raises ConfigError saying what to fix.

  The sections every game shares are checked here, then the game's own
  `validate` runs (`jaxgan/games/`).
  """
  game = seeds.game_of(config)
  schema.check_values(config)
  train = config.train
  for key in (
    'batch_size',
    'num_steps',
    'log_every',
    'sample_every',
    'checkpoint_every',
    'keep_checkpoints',
  ):
    if train[key] < 1:
      raise errors.ConfigError(f'config.train.{key} must be >= 1; got {train[key]}')
  n_critic = config.loss.get('n_critic', 1)
  if train.batch_size % n_critic:
    raise errors.ConfigError(
      f'config.train.batch_size={train.batch_size} must divide into '
      f'config.loss.n_critic={n_critic} D batches'
    )
  if train.on_nan not in ('stop', 'rollback'):
    raise errors.ConfigError(
      f"config.train.on_nan must be 'stop' or 'rollback'; got {train.on_nan!r}"
    )
  if not 0.0 < train.rollback_lr_factor < 1.0:
    raise range_error('train.rollback_lr_factor', train.rollback_lr_factor, 'in (0, 1)')
  for key in ('max_rollbacks', 'rollbacks'):
    if train[key] < 0:
      raise range_error(f'train.{key}', train[key], '>= 0')
  if train.get('best_mode', 'min') not in ('min', 'max'):
    raise errors.ConfigError(
      f"config.train.best_mode must be 'min' or 'max'; got {train.best_mode!r}"
    )
  for name, section in config.get('evals', {}).items():
    for key, least in (('every', 0), ('n', 2), ('batch_size', 1)):
      if section.get(key, least) < least:
        raise range_error(f'evals.{name}.{key}', section[key], f'>= {least}')
  if train.use_ema and not 0.0 <= train.get('ema_decay', 0.0) < 1.0:
    raise errors.ConfigError(f'config.train.ema_decay must be in [0, 1); got {train.ema_decay}')
  if config.eval.every < 0:
    raise errors.ConfigError(
      f'config.eval.every must be >= 0 (0: with the sample grids); got {config.eval.every}'
    )
  for key, least in (('num_threads', 1), ('prefetch', 1), ('workers', 0)):
    if config.data.get(key, least) < least:
      raise errors.ConfigError(f'config.data.{key} must be >= {least}; got {config.data[key]}')
  if config.eval.num_samples < 1:
    raise errors.ConfigError(f'config.eval.num_samples must be >= 1; got {config.eval.num_samples}')
  if train.use_ema and not game.keeps_ema:
    raise errors.ConfigError(
      f'config.game={game.name!r} keeps no EMA generator; set config.train.use_ema=False'
    )
  if config.parallel not in game.parallel_modes:
    raise errors.ConfigError(
      f'config.game={game.name!r} does not train under config.parallel={config.parallel!r}; '
      f'use {" or ".join(repr(m) for m in game.parallel_modes)}'
    )
  game.validate(config)
