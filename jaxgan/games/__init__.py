"""The game interface and its registry: one module per game, found by name.

A *game* is everything that differs between, say, DCGAN and CycleGAN; the
trainer (`jaxgan/train.py`), checkpoints, logs and the entry points are
shared and name no game. Each module `jaxgan/games/<name>.py` defines a
subclass of `Game` and exposes one instance as `GAME`; `get(name)` imports
it on first use. Adding a game is one new module here, its configs under
`experiments/`, and (if wanted) an entry point — no other file is edited.
No game module imports another; shared pieces live in `jaxgan.state`,
`jaxgan.eval`, `jaxgan.data` and `jaxgan.losses`. `jaxgan.seeds.game_of(config)`
is the game of a config (vmapped over seeds where it asks for several).

The interface (every method takes the resolved `ml_collections.ConfigDict`):

- `validate(config)`: raises `ConfigError` (one line, says what to fix) for
  values the game cannot train; the trainer runs `configs.validate` (the
  sections every game shares) before it, for every game.
- `smoke(config)`: shrinks the config's game-specific sizes for the
  seconds-long `:smoke` CPU run (the shared train/eval settings are shrunk
  by `configs.smoke`).
- `create_state(config, *, axis_name=None)`: the initial `GANState`;
  `axis_name` names pmap's device axis for BatchNorm (None under jit).
- `step_fn(config)`: the pure `(state, batch, *, axis_name=None) -> (state,
  metrics)` step with the config's settings bound; compiled once by
  `parallel.DataParallel.compile`.
- `step_phase(config, index)`: None, or the static phase of the update at
  state step `index` (which lazy regularisers it runs); the trainer then
  compiles `step_fn(config, phase=...)` once per phase (`parallel.PhasedStep`)
  and picks by the step it counts on the host, so a step runs no regulariser
  it skips (StyleGAN2: R1 every 16 steps, path length every 4).
- `create_batches(config, *, process_index, process_count)`: a
  `data.pipeline.BatchSource` of this process's slice of each global batch.
- `create_evaluators(config, outputs)`: `jaxgan.eval.base.Evaluator`s, each with
  its own schedule; what they return is logged and the final values go to
  `results.json`.
- `progress_metrics`: the step metrics the progress bar shows.
- `truncate(z, rng, truncation)`: the truncation trick of `sample --truncation`
  (latents redrawn inside a threshold, or styles pulled toward their mean).
- `interpolation(a, b, t)`: the latents (and extra `generate` arguments) of
  `sample --interpolate`; slerp between the latents unless a game overrides it
  (StyleGAN2 interpolates linearly in W).
- `noise(mode, rng)` / `style_mixing(state, rows, cols, ...)`: `sample --noise`
  and `sample --style_mixing`, for a generator with noise inputs and per-layer
  styles; the others raise ConfigError.
- `generate(state, z, *, use_ema, cond)` / `translate(state, x, direction)`:
  sampling from noise (`jaxgan.experiments.sample`) or image translation
  (`jaxgan.experiments.translate`); a game without one raises ConfigError.
- `models`: the `config.model.name` values it trains (`for_model` finds
  the game of a model).
- `entry_point`: the `python -m` module that trains it; `keeps_ema`: whether
  `config.train.use_ema` means anything; `parallel_modes`: the
  `config.parallel` modes the game trains correctly in (others are refused
  at start-up).
"""

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import ml_collections

from jaxgan import images
from jaxgan.errors import ConfigError

ConfigDict = ml_collections.ConfigDict


class Game:
  """Base class of the games; see the module docstring for the interface."""

  name: str = ''
  entry_point: str = ''
  models: tuple[str, ...] = ()  # the config.model.name values it trains
  keeps_ema: bool = False
  parallel_modes: tuple[str, ...] = ('jit', 'pmap')
  progress_metrics: tuple[str, ...] = ('d_loss', 'g_loss')

  def smoke(self, config: ConfigDict) -> ConfigDict:
    return config

  def validate(self, config: ConfigDict) -> None:
    del config

  def create_state(self, config: ConfigDict, *, axis_name: str | None = None):
    raise NotImplementedError

  def step_fn(self, config: ConfigDict) -> Callable:
    raise NotImplementedError

  def step_phase(self, config: ConfigDict, index: int) -> Any:
    del config, index
    return None

  def create_batches(self, config: ConfigDict, *, process_index: int = 0, process_count: int = 1):
    raise NotImplementedError

  def create_evaluators(self, config: ConfigDict, outputs) -> list:
    del config, outputs
    return []

  def generate(self, state, z, *, use_ema: bool = True, cond=None):
    del state, z, use_ema, cond
    raise ConfigError(
      f'a {self.name!r} run does not sample from noise; use python -m jaxgan.experiments.translate'
    )

  def truncate(self, z, rng, truncation: float) -> tuple[Any, dict[str, Any]]:
    """The truncation trick for `sample --truncation`: `(latents, extra generate kwargs)`."""
    del z, rng, truncation
    raise ConfigError(f'a {self.name!r} run has no truncation trick; leave --truncation out')

  def interpolation(self, a, b, t) -> tuple[Any, dict[str, Any]]:
    """`sample --interpolate`: rows from latents `a` to `b` `[R, ...]` at fractions `t` `[T]`,
    as `(latents [R * T, ...], extra generate kwargs)`, row by row. Here: slerp in the latents."""
    return images.slerp(a, b, t).reshape(len(a) * len(t), -1), {}

  def noise(self, mode: str, rng) -> dict[str, Any]:
    """`sample --noise=MODE`: extra generate kwargs (`rng` for freshly drawn noise)."""
    del mode, rng
    raise ConfigError(
      f'a {self.name!r} run has no noise inputs (--noise is for StyleGAN2); leave --noise out: '
      '--seed chooses the latents'
    )

  def style_mixing(self, state, rows, cols, *, layers: str = 'coarse', **kwargs):
    """`sample --style_mixing`: the grid of rows' styles at `layers` with columns' others."""
    del state, rows, cols, layers, kwargs
    raise ConfigError(
      f'a {self.name!r} run has no per-layer styles to mix (--style_mixing is for StyleGAN2); '
      'use --interpolate or --arithmetic'
    )

  def translate(self, state, x, direction: str):
    del state, x, direction
    raise ConfigError(
      f'a {self.name!r} run does not translate images; use python -m jaxgan.experiments.sample'
    )


def known() -> list[str]:
  """Names of the games: the public modules of this package."""
  return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith('_'))


def get(name: str) -> Game:
  """The game `name`; raises ConfigError listing the known games."""
  games = known()
  if name not in games:
    raise ConfigError(f'unknown config.game {name!r}; known: {", ".join(games)}')
  return importlib.import_module(f'{__name__}.{name}').GAME


def for_model(model: str) -> Game:
  """The game that trains `config.model.name == model`; raises ConfigError listing the models."""
  found = {m: get(name) for name in known() for m in get(name).models}
  if model not in found:
    raise ConfigError(f'no game trains model {model!r}; known: {", ".join(sorted(found))}')
  return found[model]
