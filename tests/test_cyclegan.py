"""CycleGAN and pix2pix networks, the image pool, the game's step, data, resume, translation."""

import json
import logging
import os
import shutil
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import checkpoint, configs, train, translate
from jaxgan.data import sources
from jaxgan.errors import ConfigError, DataError
from jaxgan.games import cyclegan, pix2pix
from jaxgan.models import cyclegan as cg
from jaxgan.state import count_params
from tests.helpers import ROOT, convolution_dtypes, load_config

# Counted from a PyTorch build of the reference layers (pytorch-CycleGAN-and-pix2pix layouts).
REFERENCE_COUNTS = [
  (cg.ResnetGenerator(num_blocks=9), (1, 256, 256, 3), 11_378_179),
  (cg.ResnetGenerator(num_blocks=6), (1, 128, 128, 3), 7_837_699),
  (cg.PatchDiscriminator(), (1, 256, 256, 3), 2_764_737),
  (cg.PatchDiscriminator(norm='batch'), (1, 256, 256, 6), 2_768_705),  # pix2pix, conditioned
  (cg.UnetGenerator(), (1, 256, 256, 3), 54_413_955),
]


@pytest.mark.parametrize('module,shape,expected', REFERENCE_COUNTS)
def test_parameter_counts_match_the_reference(module, shape, expected):
  params = jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros(shape), train=False))
  assert count_params(params['params']) == expected


def test_network_shapes():
  x = jnp.zeros((2, 32, 32, 3))
  key = jax.random.key(0)
  shape = lambda net, **kw: jax.eval_shape(lambda: net.apply(net.init(key, x), x, **kw)).shape
  assert shape(cg.ResnetGenerator(features=4, num_blocks=1)) == (2, 32, 32, 3)
  assert shape(cg.PatchDiscriminator(features=4)) == (2, 2, 2)
  u = cg.UnetGenerator(features=4, num_downs=5)
  train = lambda: u.apply(
    u.init(key, x, train=False), x, train=True, rngs={'dropout': key}, mutable=['batch_stats']
  )[0]
  assert jax.eval_shape(train).shape == (2, 32, 32, 3)
  with pytest.raises(ValueError, match='divisible by 4'):
    jax.eval_shape(lambda: cg.ResnetGenerator(features=4).init(key, jnp.zeros((1, 30, 30, 3))))


def test_pool_fills_then_swaps_half_the_time():
  pool = cyclegan.create_pool(4, (1,))
  query = jax.jit(cyclegan.pool_query)
  first = jnp.arange(4, dtype=jnp.float32).reshape(4, 1)
  pool, seen = query(pool, first, jax.random.key(0))
  np.testing.assert_array_equal(seen, first)  # filling: every fake is returned and stored
  assert int(pool['count']) == 4
  from_pool, stored = 0, set(range(4))
  for i in range(500):
    new = jnp.full((2, 1), 100.0 + i)
    before = set(np.asarray(pool['images'])[:, 0].tolist())
    pool, seen = query(pool, new, jax.random.key(i + 1))
    for value in np.asarray(seen)[:, 0]:
      if value < 100.0 + i:
        from_pool += 1
        assert value in before | stored  # an earlier fake, not an invented image
    stored |= set(np.asarray(pool['images'])[:, 0].tolist())
  # 1000 draws of p = 1/2: 5 standard deviations is +-79.
  assert 420 < from_pool < 580, from_pool
  assert int(pool['count']) == 4
  empty = cyclegan.create_pool(0, (1,))
  _, seen = cyclegan.pool_query(empty, first, jax.random.key(0))
  np.testing.assert_array_equal(seen, first)


def _config(**changes):
  config = load_config('experiments/cyclegan/digits.py', 'smoke')
  config.num_devices = 1
  for key, value in changes.items():
    section, name = key.split('__')
    config[section][name] = value
  return config


def test_step_reports_the_cycle_and_identity_losses():
  config = _config()
  state = cyclegan.GAME.create_state(config)
  batches = cyclegan.GAME.create_batches(config)
  batch = jax.tree.map(jnp.asarray, batches.batch(0))
  new_state, metrics = jax.jit(cyclegan.GAME.step_fn(config))(state, batch)

  @jax.jit
  def losses(state, a, b):
    ab = lambda x: cyclegan.translate(state, x, 'ab')  # no BatchNorm: train == inference
    ba = lambda x: cyclegan.translate(state, x, 'ba')
    cycle = jnp.mean(jnp.abs(ba(ab(a)) - a)) + jnp.mean(jnp.abs(ab(ba(b)) - b))
    return cycle, jnp.mean(jnp.abs(ab(b) - b)) + jnp.mean(jnp.abs(ba(a) - a))

  cycle, identity = losses(state, batch['a'], batch['b'])
  np.testing.assert_allclose(metrics['cycle'], cycle, rtol=1e-4)
  np.testing.assert_allclose(metrics['identity'], identity, rtol=1e-4)
  assert int(new_state.extra['pool_a']['count']) == config.train.batch_size
  chex.assert_tree_all_finite(metrics)


def test_known_mapping_data_is_unpaired_and_invertible():
  data = sources.digits_unpaired(32)
  np.testing.assert_allclose(
    sources.inverse_known_mapping(sources.known_mapping(data['test_a'])), data['test_a']
  )
  assert len(data['train_a']) == len(data['train_b']) == 800
  # B comes from other digits than A: no B image is T of an A image (whole images compared).
  t_a = sources.known_mapping(data['train_a']).reshape(800, -1).astype(np.float64)
  b = data['train_b'].reshape(800, -1).astype(np.float64)
  squared = (t_a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * t_a @ b.T
  assert squared.min() > 1.0  # measured: 14.1 (median 635); a shared digit would give ~0


def test_resume_is_exact_including_the_pool(tmp_path, caplog):
  config = _config(train__num_steps=6)  # checkpoints at steps 3 and 6
  train.train_and_evaluate(config, str(tmp_path / 'one'))
  # The same run stopped after its step-3 save: its workdir without the step-6 checkpoint.
  shutil.copytree(tmp_path / 'one', tmp_path / 'two')
  shutil.rmtree(tmp_path / 'two' / 'checkpoints' / '6')
  caplog.set_level(logging.INFO)
  train.train_and_evaluate(config, str(tmp_path / 'two'))
  assert 'checkpoints at step 3.' in caplog.text  # "Resumed from .../checkpoints at step 3."

  def restore(workdir):
    ckpt = checkpoint.Checkpointer(str(workdir), create=False)
    state = ckpt.restore(cyclegan.GAME.create_state(config))
    ckpt.close()
    return state

  one, two = restore(tmp_path / 'one'), restore(tmp_path / 'two')
  assert int(one.extra['pool_a']['count']) == 12  # 6 steps x batch 2, pool of 50
  chex.assert_trees_all_equal(jax.tree.leaves(one), jax.tree.leaves(two))


def test_known_mapping_error_falls(tmp_path):
  config = _config(
    train__num_steps=150,
    train__batch_size=4,
    train__log_every=50,
    train__sample_every=1000,
    train__checkpoint_every=1000,
  )
  config.model.features, config.model.num_blocks = 8, 1
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps, config.optimizer[who].decay_steps = 150, 0
  state = train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'results.json').read_text())
  assert results['mapping_error_ab'] < 0.5 * results['identity_error'], results
  assert results['mapping_error_ba'] < 0.5 * results['identity_error'], results
  assert int(state.step) == 150


def _write(folder, n, size=(40, 36), mode='RGB'):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(n):
    shape = (size[1], size[0], 3) if mode == 'RGB' else (size[1], size[0])
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(folder / f'{i}.png')


def test_folder_layout_errors(tmp_path):
  _write(tmp_path / 'ok' / 'trainA', 3)
  with pytest.raises(DataError, match='has no trainB/'):
    sources.unpaired_folders(str(tmp_path / 'ok'), 32, 3)
  (tmp_path / 'ok' / 'trainB').mkdir()
  with pytest.raises(DataError, match='holds no images'):
    sources.unpaired_folders(str(tmp_path / 'ok'), 32, 3)
  _write(tmp_path / 'ok' / 'trainB', 2)
  (tmp_path / 'ok' / 'trainB' / 'bad.png').write_bytes(b'garbage')
  with pytest.raises(DataError, match="cannot read image '.*bad.png'"):
    sources.unpaired_folders(str(tmp_path / 'ok'), 32, 3)
  with pytest.raises(DataError, match='does not exist'):
    sources.unpaired_folders(str(tmp_path / 'missing'), 32, 3)


def test_folder_training_and_translate_cli(tmp_path):
  for split, n in [('trainA', 4), ('trainB', 4), ('testA', 2), ('testB', 2)]:
    _write(tmp_path / 'data' / split, n)
  config = _config()
  config.data.source, config.data.path, config.data.random_flip = (
    'folder',
    str(tmp_path / 'data'),
    True,
  )
  train.train_and_evaluate(config, str(tmp_path / 'w'))
  _write(tmp_path / 'in', 2, size=(50, 20), mode='L')  # any size and colour mode
  written = translate.translate_folder(
    str(tmp_path / 'w'), str(tmp_path / 'in'), str(tmp_path / 'out'), direction='ba'
  )
  assert len(written) == 2 and all(Image.open(p).size == (50, 20) for p in written)
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'jaxgan.experiments.translate',
      f'--workdir={tmp_path / "w"}',
      f'--input={tmp_path / "in"}',
      f'--output={tmp_path / "cli"}',
      '--direction=ab',
    ],
    capture_output=True,
    text=True,
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS='cpu'),
    timeout=120,
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert sorted(os.listdir(tmp_path / 'cli')) == ['0.png', '1.png']


def test_tfds_cycle_gan_under_mock_data(tmp_path):
  config = _config()
  config.data.source, config.data.name = 'tfds', 'cycle_gan/horse2zebra'
  with tfds.testing.mock_data(num_examples=6):
    state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 6


def test_bad_cyclegan_configs():
  config = _config()
  config.loss.name = 'relativistic_average'
  with pytest.raises(ConfigError, match='not usable by CycleGAN'):
    configs.validate(config)
  config = _config()
  config.data.load_size = 16
  with pytest.raises(ConfigError, match='load_size'):
    configs.validate(config)


@pytest.mark.parametrize('game', ['cyclegan', 'pix2pix'])
def test_half_precision_steps_keep_float32_state(game):
  module = cyclegan if game == 'cyclegan' else pix2pix
  config = (
    _config() if game == 'cyclegan' else load_config('experiments/pix2pix/digits.py', 'smoke')
  )
  config.num_devices = 1
  config.train.half_precision = True
  state = module.GAME.create_state(config)
  batch = jax.tree.map(jnp.asarray, module.GAME.create_batches(config).batch(0))
  step = jax.jit(module.GAME.step_fn(config))
  new, metrics = step(state, batch)
  chex.assert_tree_all_finite(metrics)
  # The compute is bfloat16: every convolution of the step, forward and backward.
  dtypes = convolution_dtypes(step, state, batch)
  assert set(dtypes) == {'bf16'} and dtypes['bf16'] >= 20, dtypes
  floats = [x for x in jax.tree.leaves((new.g, new.d)) if jnp.issubdtype(x.dtype, jnp.floating)]
  assert floats and all(x.dtype == jnp.float32 for x in floats)
  config.train.use_ema = True
  with pytest.raises(ConfigError, match='keeps no EMA generator'):
    configs.validate(config)
