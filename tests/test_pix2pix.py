"""pix2pix: paired data in the reference layout, the step, learning the known mapping."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan import configs, train, translate
from jaxgan.data import sources
from jaxgan.errors import ConfigError, DataError
from jaxgan.games import pix2pix
from tests.helpers import load_config


def _config():
  config = load_config('experiments/pix2pix/digits.py', 'smoke')
  config.num_devices = 1
  return config


def _write_pairs(folder, n):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(n):
    a = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(folder / f'{i}.png')


def test_paired_folder_splits_a_and_b(tmp_path):
  _write_pairs(tmp_path / 'train', 3)
  _write_pairs(tmp_path / 'val', 2)
  found = sources.paired_folders(str(tmp_path), 32, 3)
  assert set(found) == {'train', 'test'} and found['test'].num_records == 2
  x = found['train'].take(range(3))
  a, b = x['a'], x['b']
  assert set(x) == {'a', 'b'} and a.shape == b.shape == (3, 32, 32, 3)
  assert np.mean(np.abs(a + b)) < 0.02  # B = 255 - A, up to resampling overshoot and rounding
  with pytest.raises(DataError, match='has no train/'):
    sources.paired_folders(str(tmp_path / 'val'), 32, 3)


def test_step_updates_both_players_finitely():
  config = _config()
  state = pix2pix.GAME.create_state(config)
  batch = jax.tree.map(jnp.asarray, pix2pix.GAME.create_batches(config).batch(0))
  assert batch['a'].shape == batch['b'].shape == (2, 32, 32, 3)
  new, metrics = jax.jit(pix2pix.GAME.step_fn(config))(state, batch)
  chex.assert_tree_all_finite(metrics)
  assert {'d_loss', 'g_adv', 'l1', 'g_loss'} <= set(metrics)
  np.testing.assert_allclose(
    metrics['g_loss'], metrics['g_adv'] + config.loss.l1_weight * metrics['l1'], rtol=1e-5
  )
  assert int(new.g.step) == int(new.d.step) == 1
  assert 'batch_stats' in new.g.collections and 'batch_stats' in new.d.collections


def test_learns_the_known_mapping(tmp_path):
  config = _config()
  config.train.num_steps, config.train.batch_size = 100, 8
  config.train.sample_every = config.train.checkpoint_every = 1000
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps, config.optimizer[who].decay_steps = 100, 0
  train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'results.json').read_text())
  assert results['test_l1'] < 0.5 * results['identity_l1'], results


def test_folder_run_b_to_a_then_translate(tmp_path):
  _write_pairs(tmp_path / 'data' / 'train', 4)
  config = _config()
  config.data.source, config.data.path = 'folder', str(tmp_path / 'data')
  stored = pix2pix._sources(config.data)['train'].take([0, 1])
  config.data.direction = 'BtoA'
  swapped = pix2pix._sources(config.data)['train'].take([0, 1])
  np.testing.assert_array_equal(swapped['a'], stored['b'])
  np.testing.assert_array_equal(swapped['b'], stored['a'])
  state = train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert int(state.step) == 6 and (tmp_path / 'w' / 'samples' / 'final.png').exists()
  (tmp_path / 'in').mkdir()
  Image.new('L', (50, 30)).save(tmp_path / 'in' / 'x.png')  # any size and colour mode
  written = translate.translate_folder(
    str(tmp_path / 'w'), str(tmp_path / 'in'), str(tmp_path / 'out')
  )
  assert [Image.open(f).size for f in written] == [(50, 30)]
  with pytest.raises(ConfigError, match='one way only'):
    translate.translate_folder(
      str(tmp_path / 'w'), str(tmp_path), str(tmp_path / 'o'), direction='ba'
    )
  config.data.direction = 'B2A'
  with pytest.raises(ConfigError, match="direction='B2A'; known: AtoB, BtoA"):
    configs.validate(config)


def test_tfds_pairs_two_features_or_one_side_by_side(tmp_path):
  with tfds.testing.mock_data(num_examples=3):
    two = sources.tfds_paired_source('div2k/bicubic_x4', 'train', 20, 3, key_a='lr', key_b='hr')
    one = sources.tfds_paired_source('cycle_gan/facades', 'trainA', 20, 1, key_a='image')
    assert two.take(range(3))['a'].shape == two.take(range(3))['b'].shape == (3, 20, 20, 3)
    assert one.take(range(2))['b'].shape == (2, 20, 20, 1)
    bad = sources.tfds_paired_source('div2k/bicubic_x4', 'train', 20, 3, key_a='lr', key_b='x')
    with pytest.raises(DataError, match=r"no 'x' feature; features: \['hr', 'lr'\].*key_b"):
      bad[0]


def test_pix2pix_trains_on_tfds_under_mock_data(tmp_path):
  config = load_config('experiments/pix2pix/div2k.py', 'smoke')
  config.num_devices = 1
  with tfds.testing.mock_data(num_examples=4):
    state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == config.train.num_steps
