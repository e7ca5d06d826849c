"""Sampling from a trained workdir: PNG grids, interpolation strips, raw `.npy` outputs, and
StyleGAN2's style-mixing grid and noise modes, and a row of truncations."""

import functools
import json
import os

import jax
import numpy as np

from jaxgan import checkpoint, images, seeds
from jaxgan.data import toy2d
from jaxgan.errors import ConfigError
from jaxgan.eval import classifier as classifier_lib
from jaxgan.eval import features

FORMATS = ('png', 'npy')
# fold_in salts of --seed's key: the truncation redraws and the random noise
TRUNCATION_SALT, NOISE_SALT = 0x7C, 0x401E


def sample_from_workdir(
  workdir: str,
  *,
  n: int = 64,
  interpolate: bool = False,
  output: str = '',
  fmt: str = 'png',
  seed: int = 0,
  use_ema: bool = True,
  which: str = 'latest',
  seed_index: int = 0,
  label: str = '',
  truncation: float | None = None,
  noise: str = '',
) -> str:
  """Writes `n` samples (or `n` interpolation rows) of the newest checkpoint; returns the path.

  Args:
    workdir: a training workdir.
    n: number of samples (with `interpolate`, of rows).
    interpolate: rows of interpolations between random latents: slerp in the latents;
      StyleGAN2, linear in W (the mapped latents).
    output: file to write (default: `workdir/samples/sample[_interp].{png,npy}`).
    fmt: 'png' (a grid, or a scatter plot for 2-D data) or 'npy' (raw generator outputs).
    seed: latent seed.
    use_ema: sample with the EMA generator if the run kept one.
    which: the checkpoint: 'latest', 'best' or 'best:METRIC'.
    seed_index: which seed of a `config.num_seeds > 1` run.
    label: for a class-conditional run, 'K' (every sample of class K) or 'rows'
      (one row per class, the same latents in each column; the default).
    truncation: the truncation trick (None: none): BigGAN-style, the latents' components
      beyond this threshold redrawn inside it; StyleGAN2, psi (styles toward w_avg).
    noise: StyleGAN2's noise inputs ('': the default, const): 'random' (drawn afresh from
      `seed`), 'const' (G's fixed noise images) or 'none' (zero).
  """
  if fmt not in FORMATS:
    raise ConfigError(f'unknown --format {fmt!r}; known: {", ".join(FORMATS)}')
  if n < 1:
    raise ConfigError(f'--n must be >= 1; got {n}')
  config, state = checkpoint.load_state(workdir, which, seed_index)
  game = seeds.game_of(config)
  rng = jax.random.key(seed)
  extra = {}
  if interpolate:
    cols = config.eval.interpolation_steps
    ends = np.asarray(jax.random.normal(rng, (2, n, *state.latent_shape)))
    z, extra = game.interpolation(ends[0], ends[1], np.linspace(0, 1, cols))
  else:
    cols = None
    z = jax.random.normal(rng, (n, *state.latent_shape))
  cond, rows = conditions(config, label, len(z))
  if rows and interpolate:
    raise ConfigError('--interpolate on a class-conditional run needs one class: --label=K')
  if rows:
    cols, z = len(z), np.tile(np.asarray(z), (rows, 1))
  z, more = _truncation_and_noise(game, z, rng, truncation, noise)
  samples = np.asarray(_generate(game, state, z, use_ema=use_ema, cond=cond, **extra, **more))
  suffix = '_interp' if interpolate else ''
  output = output or os.path.join(workdir, 'samples', f'sample{suffix}.{fmt}')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  if fmt == 'npy':
    np.save(output, samples)
  elif samples.ndim == 2:
    modes = toy2d.get_mixture(config.data.name).means if config.data.source == 'toy2d' else None
    images.save_png(images.render_points(samples, modes), output)
  else:
    images.save_png(images.make_grid(samples, ncol=cols), output)
  meta = _provenance(workdir, state, use_ema, seed, seed_index, label, noise)
  with open(output + '.json', 'w') as f:
    json.dump({**meta, 'n': n, 'interpolate': interpolate, 'truncation': truncation}, f)
  return output


def _truncation_and_noise(game, z, rng, truncation: float | None, noise: str):
  """`(latents, extra generate kwargs)` of `--truncation` and `--noise` (each unless unset)."""
  extra = {}
  if truncation is not None:
    z, extra = game.truncate(z, jax.random.fold_in(rng, TRUNCATION_SALT), truncation)
  if noise:
    extra = {**extra, **game.noise(noise, jax.random.fold_in(rng, NOISE_SALT))}
  return z, extra


def _generate(game, state, z, *, use_ema: bool, **kwargs):
  """`game.generate`, jitted; settings that are no arrays (a noise mode) bound as static."""
  static = tuple(sorted((k, v) for k, v in kwargs.items() if isinstance(v, str)))
  arrays = {k: v for k, v in kwargs.items() if k not in dict(static)}
  return _jitted_generate(game, use_ema, static)(state, z, **arrays)


@functools.lru_cache(maxsize=8)
def _jitted_generate(game, use_ema: bool, static: tuple):
  """One jitted `game.generate` per game and static settings: calls that differ only in
  arrays (another psi, another state) reuse its compilation. Bounded: a vmapped-seeds game
  is a new object per `seeds.game_of`."""
  return jax.jit(functools.partial(game.generate, use_ema=use_ema, **dict(static)))


def _provenance(workdir: str, state, use_ema: bool, seed, seed_index, label, noise) -> dict:
  """What every sample file's `.json` records: the run and step, the latents' seed, the
  class and noise asked for, and whether the EMA G drew it."""
  return {
    'workdir': os.path.abspath(workdir),
    'step': int(state.step),
    'seed': seed,
    'seed_index': seed_index,
    'label': label,
    'noise': noise,
    'ema': bool(use_ema and state.ema is not None),
  }


def _write_grid(output: str, out: np.ndarray, fmt: str, meta: dict) -> str:
  """Writes `out` (`[ROWS, COLS, H, W, C]`) as `fmt` (a PNG grid, or the `.npy` array) and
  `meta` beside it (`output.json`); returns `output`."""
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  if fmt == 'npy':
    np.save(output, out)
  else:
    images.save_png(images.make_grid(out.reshape(-1, *out.shape[2:]), ncol=out.shape[1]), output)
  with open(output + '.json', 'w') as f:
    json.dump(meta, f)
  return output


def style_mixing(
  workdir: str,
  grid: str,
  *,
  layers: str = 'coarse',
  output: str = '',
  fmt: str = 'png',
  seed: int = 0,
  use_ema: bool = True,
  which: str = 'latest',
  seed_index: int = 0,
  label: str = '',
  truncation: float | None = None,
  noise: str = '',
) -> str:
  """Writes a StyleGAN2 run's style-mixing grid (the StyleGAN figure); returns the path.

  The first row shows COLS source images, the first column ROWS others (the
  corner blank); cell (i, j) is G with row i's styles at `layers` and column
  j's everywhere else. The ROWS + COLS latents come from `seed`, the rows'
  first.

  Args:
    workdir: a StyleGAN2 workdir.
    grid: 'ROWS,COLS'.
    layers: the rows' styles: 'coarse' (4x4-8x8), 'middle' (16x16-32x32), 'fine' (64x64
      and up), 'N' (the first N styles) or 'START:STOP' (`games.stylegan2.mixing_layers`).
    output: file to write (default: `workdir/samples/sample_mixing.{png,npy}`).
    fmt: 'png' (the grid) or 'npy' (`[ROWS + 1, COLS + 1, H, W, C]`).
    seed, use_ema, which, seed_index, truncation, noise: as `sample_from_workdir`.
    label: a class-conditional run's class K (every source of class K).
  """
  if fmt not in FORMATS:
    raise ConfigError(f'unknown --format {fmt!r}; known: {", ".join(FORMATS)}')
  try:
    nr, nc = (int(v) for v in grid.split(','))
  except ValueError:
    raise ConfigError(f'--style_mixing={grid!r}: give ROWS,COLS (e.g. 3,5)') from None
  if nr < 1 or nc < 1:
    raise ConfigError(f'--style_mixing={grid!r}: ROWS and COLS must be >= 1')
  config, state = checkpoint.load_state(workdir, which, seed_index)
  game = seeds.game_of(config)
  rng = jax.random.key(seed)
  z = jax.random.normal(rng, (nr + nc, *state.latent_shape))
  cond, rows = conditions(config, label, nr + nc)
  if rows:
    raise ConfigError('--style_mixing on a class-conditional run needs one class: --label=K')
  z, extra = _truncation_and_noise(game, z, rng, truncation, noise)
  out = game.style_mixing(state, z[:nr], z[nr:], layers=layers, use_ema=use_ema, cond=cond, **extra)
  out = np.asarray(out)
  output = output or os.path.join(workdir, 'samples', f'sample_mixing.{fmt}')
  meta = _provenance(workdir, state, use_ema, seed, seed_index, label, noise)
  meta.update(style_mixing=grid, mixing_layers=layers, truncation=truncation)
  return _write_grid(output, out, fmt, meta)


def truncation_row(
  workdir: str,
  values: str,
  *,
  n: int = 4,
  output: str = '',
  fmt: str = 'png',
  seed: int = 0,
  use_ema: bool = True,
  which: str = 'latest',
  seed_index: int = 0,
  label: str = '',
  noise: str = '',
) -> str:
  """Writes a grid of `n` latents (rows) under the truncations in `values` (columns).

  The picture of the truncation trick: each row one latent of `seed`, each column a
  truncation, so a row shows one image moving toward the mean (StyleGAN2's psi toward 0:
  every row meets G(w_avg)) or, for BigGAN-style thresholds, its redrawn components shrinking.

  Args:
    workdir: a training workdir.
    values: comma-separated truncations, e.g. '1,0.7,0.5,0'; 'none' is no truncation.
    n: rows.
    output: file to write (default: `workdir/samples/sample_truncation.{png,npy}`).
    fmt: 'png' (the grid) or 'npy' (`[n, len(values), H, W, C]`).
    seed, use_ema, which, seed_index, noise: as `sample_from_workdir`.
    label: a class-conditional run's class K (every row of class K).
  """
  if fmt not in FORMATS:
    raise ConfigError(f'unknown --format {fmt!r}; known: {", ".join(FORMATS)}')
  if n < 1:
    raise ConfigError(f'--n must be >= 1; got {n}')
  try:
    psis = [None if v.strip() == 'none' else float(v) for v in values.split(',')]
  except ValueError:
    raise ConfigError(
      f'--truncation_row={values!r}: give numbers or none, comma-separated (e.g. 1,0.7,0.5,0)'
    ) from None
  config, state = checkpoint.load_state(workdir, which, seed_index)
  game = seeds.game_of(config)
  rng = jax.random.key(seed)
  z = jax.random.normal(rng, (n, *state.latent_shape))
  cond, rows = conditions(config, label, n)
  if rows:
    raise ConfigError('--truncation_row on a class-conditional run needs one class: --label=K')
  columns = []
  for psi in psis:
    zt, extra = _truncation_and_noise(game, z, rng, psi, noise)
    columns.append(np.asarray(_generate(game, state, zt, use_ema=use_ema, cond=cond, **extra)))
  if columns[0].ndim == 2:
    raise ConfigError('--truncation_row draws image grids; a 2-D run has no images to row')
  out = np.stack(columns, axis=1)
  output = output or os.path.join(workdir, 'samples', f'sample_truncation.{fmt}')
  meta = _provenance(workdir, state, use_ema, seed, seed_index, label, noise)
  meta.update(truncation_row=psis, n=n)
  return _write_grid(output, out, fmt, meta)


def conditions(config, label: str, n: int) -> tuple[np.ndarray | None, int]:
  """(class ids of the samples, number of class rows) for `--label`; (None, 0) if unconditional.

  `n` latents; 'rows' (or '') repeats them once per class, 'K' asks class K of each.
  """
  k = config.model.get('num_classes', 0)
  if not k:
    if label:
      raise ConfigError('--label is for class-conditional runs (config.model.num_classes > 0)')
    return None, 0
  if label in ('', 'rows'):
    return np.repeat(np.arange(k, dtype=np.int32), n), k
  try:
    value = int(label)
  except ValueError:
    value = -1
  if not 0 <= value < k:
    raise ConfigError(f"--label={label!r}: give a class 0..{k - 1} or 'rows'")
  return np.full(n, value, np.int32), 0


def _group(text: str) -> tuple[str, list[int]]:
  """'class:7' -> ('class', [7]); '3+5+9' -> ('index', [3, 5, 9])."""
  text = text.strip()
  try:
    if text.startswith('class:'):
      return 'class', [int(text[len('class:') :])]
    return 'index', [int(i) for i in text.split('+')]
  except ValueError:
    raise ConfigError(
      f'bad --arithmetic group {text!r}: use class:K (a class by the digit classifier) or '
      'indices of the --n/--seed sample grid joined by + (e.g. 3+7+12)'
    ) from None


def arithmetic(
  workdir: str,
  groups: str,
  *,
  n: int = 64,
  output: str = '',
  seed: int = 0,
  use_ema: bool = True,
  which: str = 'latest',
  seed_index: int = 0,
  pool: int = 2000,
  variants: int = 8,
) -> str:
  """Latent vector arithmetic, mean(A) - mean(B) + mean(C), as a PNG grid; returns its path.

  Each of the three comma-separated groups is `class:K` (the latents of
  `pool` samples that the run's digit classifier labels K) or indices into the
  latent batch of `sample --n=N --seed=S` (the grid a user picked exemplars
  from, as the DCGAN paper did). The first row shows the three means and the
  result; the rows below, the result plus noise of std 0.25 (`variants` images).
  """
  parts = [_group(g) for g in groups.split(',')]
  if len(parts) != 3:
    raise ConfigError(f'--arithmetic takes three groups A,B,C (A - B + C); got {groups!r}')
  config, state = checkpoint.load_state(workdir, which, seed_index)
  if config.model.get('num_classes', 0):
    raise ConfigError('--arithmetic is for unconditional GANs; use --label on a conditional one')
  if len(state.latent_shape) != 1 or config.data.source == 'toy2d':
    raise ConfigError('--arithmetic needs an image GAN with a vector latent')
  game = seeds.game_of(config)
  generate = jax.jit(game.generate, static_argnames='use_ema')
  rng = jax.random.key(seed)
  means = []
  if any(kind == 'class' for kind, _ in parts):
    z_pool = np.asarray(jax.random.normal(jax.random.fold_in(rng, 1), (pool, *state.latent_shape)))
    samples = np.concatenate(
      [
        np.asarray(generate(state, z_pool[i : i + 500], use_ema=use_ema))
        for i in range(0, pool, 500)
      ]
    )
    extractor = features.Classifier(classifier_lib.for_data(config.data))
    labels = extractor(images.to_uint8(samples))['logits'].argmax(-1)
  grid_z = np.asarray(jax.random.normal(rng, (n, *state.latent_shape)))
  for kind, values in parts:
    if kind == 'class':
      if not 0 <= values[0] < 10:
        raise ConfigError(f'--arithmetic class:{values[0]}: the digit classes are 0..9')
      members = z_pool[labels == values[0]]
      if len(members) < 3:
        raise ConfigError(
          f'only {len(members)} of {pool} samples are labelled {values[0]}: the generator '
          'rarely makes that class; pick another or raise the pool'
        )
      means.append(members.mean(0))
    else:
      bad = [i for i in values if not 0 <= i < n]
      if bad:
        raise ConfigError(f'--arithmetic indices {bad} are outside the --n={n} sample grid')
      means.append(grid_z[values].mean(0))
  result = means[0] - means[1] + means[2]
  noise = 0.25 * np.asarray(jax.random.normal(jax.random.fold_in(rng, 2), (variants, result.size)))
  z = np.concatenate([np.stack([*means, result]), result[None] + noise])
  out = np.asarray(generate(state, z, use_ema=use_ema))
  output = output or os.path.join(workdir, 'samples', 'arithmetic.png')
  images.save_png(images.make_grid(out, ncol=4), output)
  with open(output + '.json', 'w') as f:
    json.dump({'workdir': os.path.abspath(workdir), 'groups': groups, 'n': n, 'seed': seed}, f)
  return output
