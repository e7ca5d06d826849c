"""Several independent seeds in one process: `config.num_seeds = N` trains N games at once.

The step is pure, so N runs that differ only in their seed are one run of the
step `jax.vmap`-ed over a stacked state: every leaf of the game gets a leading
axis of size N. Seed `i` is the run of `config.seed + i`: its own initial
state, its own data order (the batch source of that seed) and its own keys, so
it equals a single run with `--config.seed=<seed + i>` to float tolerance
(tests/test_seeds.py). Models that leave most of a CPU or accelerator idle
(the 2-D MLPs) train 10 seeds vmapped far faster than in 10 runs; convolutional
ones on a 2-core CPU do not (docs/recipes.md: measured both ways).

`Seeds(game, n)` wraps any game (`game_of` returns it when `num_seeds > 1`):
the trainer, checkpoints and logs see one game whose state happens to be
stacked. Step metrics are the mean over seeds; each evaluator of the wrapped
game runs once per seed (images under `samples/seed_<i>/`), and its values are
logged per seed (`seed_<i>/<metric>`) with their mean (`<metric>`) and
standard error over seeds (`<metric>_se`), all of which reach `results.json`.
"""

import os

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import games
from jaxgan.data import pipeline
from jaxgan.errors import ConfigError
from jaxgan.eval import base

ConfigDict = ml_collections.ConfigDict


def seed_config(config: ConfigDict, index: int) -> ConfigDict:
  """The single-seed config of seed `index` of a `num_seeds` run: seed + index, num_seeds 1."""
  n = config.get('num_seeds', 1)
  if not 0 <= index < n:
    raise ConfigError(f'seed index {index} is out of range: this run trained {n} seed(s)')
  out = ConfigDict(config.to_dict())
  out.seed = config.seed + index
  out.num_seeds = 1
  return out


def stack(trees: list):
  """Trees of one structure -> one tree with a leading axis on every leaf."""
  leaves = [jax.tree.leaves(t) for t in trees]
  stacked = [jnp.stack(x) for x in zip(*leaves, strict=True)]
  return jax.tree.unflatten(jax.tree.structure(trees[0]), stacked)


def select(state, index: int):
  """Seed `index` of a stacked state."""
  return jax.tree.map(lambda x: x[index], state)


class SeedBatches(pipeline.BatchSource):
  """The batch sources of each seed, concatenated: element `step` is `[N * B, ...]`, seed-major."""

  def __init__(self, parts: list[pipeline.BatchSource]):
    first = parts[0]
    self.parts = parts
    self.global_batch = first.global_batch * len(parts)
    self.local_batch = first.local_batch * len(parts)
    self.process_index, self.process_count = first.process_index, first.process_count
    self.read_options, self.workers = first.read_options, first.workers
    zipped = grain.experimental.ZipMapDataset(parents=[p.dataset for p in parts])
    self.dataset = zipped.map(self._concatenate)

  @staticmethod
  def _concatenate(batches):
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}

  def spec(self):
    n = len(self.parts)
    return {
      k: ((shape[0] * n, *shape[1:]), dtype) for k, (shape, dtype) in self.parts[0].spec().items()
    }


class _SeedOutputs(base.Outputs):
  """An `Outputs` that writes seed `i`'s images under `samples/seed_<i>/`."""

  def __init__(self, outputs: base.Outputs, index: int):
    self.__dict__.update(outputs.__dict__)  # the same writer and `written` list
    self.index = index
    self.sample_dir = os.path.join(outputs.sample_dir, f'seed_{index}')

  def image(self, name, image, step, *, tag='samples'):
    return super().image(name, image, step, tag=f'seed_{self.index}/{tag}')


def summarise(per_seed: list[dict[str, float]]) -> dict[str, float]:
  """`seed_<i>/<k>` for every seed, and `<k>` (mean) and `<k>_se` (standard error) over seeds."""
  out = {}
  for i, values in enumerate(per_seed):
    out.update({f'seed_{i}/{k}': float(v) for k, v in values.items()})
  for k in per_seed[0]:
    values = np.array([float(m[k]) for m in per_seed])
    out[k] = float(np.mean(values))
    if not np.all(np.isfinite(values)):  # e.g. reverse KL with no high-quality sample: inf
      out[f'{k}_se'] = float('nan')
    elif len(values) > 1:
      out[f'{k}_se'] = float(np.std(values, ddof=1) / np.sqrt(len(values)))
    else:
      out[f'{k}_se'] = 0.0
  return out


class _PerSeed(base.Evaluator):
  """Runs one evaluator per seed on its slice of the stacked state; summarises over seeds."""

  def __init__(self, per_seed: list[base.Evaluator]):
    self.per_seed = per_seed
    self.every = per_seed[0].every

  def due(self, step: int) -> bool:
    return self.per_seed[0].due(step)

  def check(self) -> None:
    for evaluator in self.per_seed:
      evaluator.check()

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    values = [e(select(state, i), step, final=final) for i, e in enumerate(self.per_seed)]
    return summarise(values) if values[0] else {}


class Seeds(games.Game):
  """`n` seeds of `game`, vmapped (see the module docstring)."""

  parallel_modes = ('jit',)

  def __init__(self, game: games.Game, n: int):
    self.game, self.n = game, n
    self.name, self.entry_point, self.models = game.name, game.entry_point, game.models
    self.keeps_ema, self.progress_metrics = game.keeps_ema, game.progress_metrics

  def _configs(self, config: ConfigDict) -> list[ConfigDict]:
    return [seed_config(config, i) for i in range(self.n)]

  def smoke(self, config: ConfigDict) -> ConfigDict:
    return self.game.smoke(config)

  def validate(self, config: ConfigDict) -> None:
    if jax.process_count() > 1:
      raise ConfigError('config.num_seeds > 1 trains in one process; run one process')
    self.game.validate(seed_config(config, 0))

  def create_state(self, config: ConfigDict, *, axis_name: str | None = None):
    return stack([self.game.create_state(c, axis_name=axis_name) for c in self._configs(config)])

  def step_phase(self, config: ConfigDict, index: int):
    return self.game.step_phase(seed_config(config, 0), index)  # one step count for all seeds

  def step_fn(self, config: ConfigDict, phase=None):
    first = seed_config(config, 0)
    one = self.game.step_fn(first) if phase is None else self.game.step_fn(first, phase=phase)
    n = self.n

    def step(state, batch, *, axis_name=None):
      del axis_name  # jit only (parallel_modes)
      batch = {k: v.reshape(n, v.shape[0] // n, *v.shape[1:]) for k, v in batch.items()}
      state, metrics = jax.vmap(one)(state, batch)
      return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

    return step

  def create_batches(self, config: ConfigDict, *, process_index: int = 0, process_count: int = 1):
    parts = [
      self.game.create_batches(c, process_index=process_index, process_count=process_count)
      for c in self._configs(config)
    ]
    return SeedBatches(parts)

  def create_evaluators(self, config: ConfigDict, outputs: base.Outputs) -> list:
    per_seed = [
      self.game.create_evaluators(c, _SeedOutputs(outputs, i))
      for i, c in enumerate(self._configs(config))
    ]
    return [_PerSeed(list(column)) for column in zip(*per_seed, strict=True)]

  def generate(self, state, z, *, use_ema: bool = True, cond=None, **kwargs):
    one = lambda s: self.game.generate(s, z, use_ema=use_ema, cond=cond, **kwargs)
    return jax.vmap(one)(state)

  def truncate(self, z, rng, truncation: float):
    return self.game.truncate(z, rng, truncation)

  def interpolation(self, a, b, t):
    return self.game.interpolation(a, b, t)

  def noise(self, mode: str, rng):
    return self.game.noise(mode, rng)

  def style_mixing(self, state, rows, cols, **kwargs):
    return jax.vmap(lambda s: self.game.style_mixing(s, rows, cols, **kwargs))(state)

  def translate(self, state, x, direction: str):
    return jax.vmap(lambda s: self.game.translate(s, x, direction))(state)


def wrap(game: games.Game, config: ConfigDict) -> games.Game:
  """`game`, or `Seeds(game, n)` when `config.num_seeds = n > 1`."""
  n = config.get('num_seeds', 1)
  if n < 1:
    raise ConfigError(f'config.num_seeds must be >= 1; got {n}')
  return Seeds(game, n) if n > 1 else game


def game_of(config: ConfigDict) -> games.Game:
  """The game of a config (`config.game`), vmapped over seeds when `config.num_seeds > 1`."""
  return wrap(games.get(config.get('game', 'gan')), config)
