"""StyleGAN2 sampling and inspection (jaxgan/sample.py, jaxgan/games/stylegan2.py): the
style-mixing grid, the noise modes, interpolation in W, `sample --style_mixing` and the
one-line errors of the other games.

The workdirs hold an untrained state (the smoke config's `create_state`, saved as a checkpoint:
no training step to compile), its noise strengths raised from their initial zero so that the
noise modes show."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import checkpoint, games, images, sample, seeds
from jaxgan.errors import ConfigError
from jaxgan.games import stylegan2 as sg2_game
from tests.helpers import ROOT, smoke_config

ATOL = 1e-5  # the same styles in batches of other sizes
generate = jax.jit(sg2_game.generate, static_argnames=('noise_mode', 'use_ema'))


def _save(config, state, workdir) -> None:
  ckpt = checkpoint.Checkpointer(str(workdir))
  ckpt.save(1, state, config.to_dict())
  ckpt.close()


def _with_noise(params, strength: float = 0.5):
  """`params` with every `noise_strength` set to `strength` (it starts at 0: no noise)."""
  named = lambda path, x: jnp.full_like(x, strength) if 'noise_strength' in str(path) else x
  return jax.tree_util.tree_map_with_path(named, params)


@pytest.fixture(scope='module')
def sg2_run(tmp_path_factory):
  """(workdir, config, state) of an untrained smoke StyleGAN2 with noise (32x32x1, 8 styles)."""
  workdir = tmp_path_factory.mktemp('sg2')
  config = smoke_config('experiments/stylegan2/digits.py')
  state = seeds.game_of(config).create_state(config)
  g = state.g.replace(params=_with_noise(state.g.params))
  state = state.replace(g=g, ema={**state.ema, 'params': _with_noise(state.ema['params'])})
  _save(config, state, workdir)
  return workdir, config, state


@pytest.fixture(scope='module')
def dcgan_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('dcgan')
  config = smoke_config()
  _save(config, seeds.game_of(config).create_state(config), workdir)
  return workdir


def _latents(n: int, seed: int, z_dim: int = 32) -> np.ndarray:
  return np.asarray(jax.random.normal(jax.random.key(seed), (n, z_dim)))


def test_mixing_grid_takes_the_rows_styles_at_the_layers(sg2_run):
  _, _, state = sg2_run
  game = sg2_game.GAME
  rows, cols = _latents(2, 1), _latents(3, 2)
  grid = lambda layers: np.asarray(game.style_mixing(state, rows, cols, layers=layers))
  none, every, middle = grid('0'), grid('0:8'), grid('middle')
  assert none.shape == (3, 4, 32, 32, 1)
  np.testing.assert_array_equal(none[0, 0], 1.0)  # the blank corner
  for g in (none, every, middle):  # the same sources on every grid: G's images of them
    np.testing.assert_allclose(g[0, 1:], none[0, 1:], atol=ATOL)
    np.testing.assert_allclose(g[1:, 0], none[1:, 0], atol=ATOL)
  np.testing.assert_allclose(none[0, 1:], generate(state, jnp.asarray(cols)), atol=ATOL)
  for i in range(2):
    for j in range(3):
      np.testing.assert_allclose(none[1 + i, 1 + j], none[0, 1 + j], atol=ATOL)  # column j
      np.testing.assert_allclose(every[1 + i, 1 + j], every[1 + i, 0], atol=ATOL)  # row i
      for source in (middle[0, 1 + j], middle[1 + i, 0]):
        assert np.abs(middle[1 + i, 1 + j] - source).max() > 1e-3
  assert sg2_game.mixing_layers('coarse', 8) == (0, 4)
  assert sg2_game.mixing_layers('fine', 12) == (8, 12)  # 128x128: 64x64 and up
  with pytest.raises(ConfigError, match='--mixing_layers=fine: this generator has 8 styles'):
    sg2_game.mixing_layers('fine', 8)
  with pytest.raises(ConfigError, match='give styles in 0..8'):
    sg2_game.mixing_layers('2:9', 8)


def test_noise_modes(sg2_run):
  _, _, state = sg2_run
  z = jnp.asarray(_latents(3, 3))
  at = lambda mode, seed=None: np.asarray(
    generate(state, z, noise_mode=mode, noise_key=None if seed is None else jax.random.key(seed))
  )
  np.testing.assert_array_equal(at('none'), at('none'))
  np.testing.assert_array_equal(at('const'), at('const'))
  np.testing.assert_array_equal(at('random', 1), at('random', 1))
  assert np.abs(at('random', 1) - at('random', 2)).max() > 1e-3
  assert np.abs(at('const') - at('none')).max() > 1e-3
  np.testing.assert_allclose(at('const'), generate(state, z), atol=ATOL)  # the default


def test_interpolation_is_linear_in_w_between_the_endpoints(sg2_run):
  workdir, config, state = sg2_run
  strip = np.load(sample.sample_from_workdir(str(workdir), n=2, interpolate=True, fmt='npy'))
  steps = config.eval.interpolation_steps
  strip = strip.reshape(2, steps, *strip.shape[1:])
  ends = jax.random.normal(jax.random.key(0), (2, 2, config.model.z_dim))  # sample's latents
  np.testing.assert_allclose(strip[:, 0], generate(state, ends[0]), atol=ATOL)
  np.testing.assert_allclose(strip[:, -1], generate(state, ends[1]), atol=ATOL)
  # Inside, the styles are interpolated, not the latents.
  t = 1 / (steps - 1)

  @jax.jit
  def lerp_in_w(ends):
    ws = [state.g.apply_fn(state.ema, e, None, False, method='map') for e in ends]
    ws = (1 - t) * ws[0] + t * ws[1]
    return state.g.apply_fn(state.ema, ws, method='synthesize', noise_mode='const')

  np.testing.assert_allclose(strip[:, 1], lerp_in_w(ends), atol=ATOL)
  slerp = images.slerp(np.asarray(ends[0]), np.asarray(ends[1]), np.asarray([t]))[:, 0]
  assert np.abs(strip[:, 1] - generate(state, jnp.asarray(slerp))).max() > 1e-3
  # Other games keep slerp in their latents.
  a, b, t = np.ones((2, 4)), -np.eye(2, 4), np.linspace(0, 1, 3)
  z, extra = games.get('gan').interpolation(a, b, t)
  np.testing.assert_array_equal(z, images.slerp(a, b, t).reshape(6, 4))
  assert extra == {}


def test_truncation_row_runs_each_latent_to_the_mean_style(sg2_run):
  workdir, config, state = sg2_run
  row = np.load(sample.truncation_row(str(workdir), '1,0.5,0', n=3, fmt='npy'))
  assert row.shape == (3, 3, 32, 32, 1)
  z = jax.random.normal(jax.random.key(0), (3, config.model.z_dim))  # the row's latents
  np.testing.assert_allclose(row[:, 0], generate(state, z), atol=ATOL)  # psi 1: untruncated
  for i in (1, 2):  # psi 0: every row is G(w_avg)
    np.testing.assert_allclose(row[i, 2], row[0, 2], atol=ATOL)
  for i in range(3):
    assert np.abs(row[i, 1] - row[i, 0]).max() > 1e-3
    assert np.abs(row[i, 1] - row[i, 2]).max() > 1e-3
  with pytest.raises(ConfigError, match=r"--truncation_row='1,x': give numbers or none"):
    sample.truncation_row(str(workdir), '1,x')


def _sample_cli(workdir, *args):
  return subprocess.run(
    [sys.executable, '-m', 'jaxgan.experiments.sample', f'--workdir={workdir}', *args],
    capture_output=True,
    text=True,
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS='cpu'),
    timeout=120,
  )


def test_style_mixing_and_truncation_row_cli_write_their_grids(sg2_run):
  workdir = sg2_run[0]
  output = workdir / 'mixing.png'
  flags = ('--style_mixing=2,3', '--mixing_layers=middle', '--noise=random', '--truncation=0.7')
  result = _sample_cli(workdir, *flags, f'--output={output}')
  assert result.returncode == 0, result.stderr
  assert np.asarray(Image.open(output)).shape[:2] == (3 * 34 + 2, 4 * 34 + 2)  # 32px, pad 2
  assert os.path.exists(f'{output}.json')
  output = workdir / 'truncation.png'
  result = _sample_cli(workdir, '--truncation_row=none,0.5,0', '--n=2', f'--output={output}')
  assert result.returncode == 0, result.stderr
  assert np.asarray(Image.open(output)).shape[:2] == (2 * 34 + 2, 3 * 34 + 2)


def test_other_games_refuse_the_stylegan2_flags_in_one_line(dcgan_run, sg2_run):
  cases = [
    (
      lambda: sample.style_mixing(str(dcgan_run), '2,3'),
      "a 'gan' run has no per-layer styles to mix (--style_mixing is for StyleGAN2); use "
      '--interpolate or --arithmetic',
    ),
    (
      lambda: sample.sample_from_workdir(str(dcgan_run), n=2, noise='none'),
      "a 'gan' run has no noise inputs (--noise is for StyleGAN2); leave --noise out: --seed "
      'chooses the latents',
    ),
    (
      lambda: sample.style_mixing(str(sg2_run[0]), '2x3'),
      "--style_mixing='2x3': give ROWS,COLS (e.g. 3,5)",
    ),
  ]
  for call, message in cases:
    with pytest.raises(ConfigError) as error:
      call()
    assert str(error.value) == message
