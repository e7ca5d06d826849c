"""pix2pix: paired data in the reference layout, the step, learning the known mapping."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import pix2pix, train
from jaxgan.data import sources
from jaxgan.errors import DataError
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
  x = found['train'].fetch(np.arange(3))
  assert x.shape == (3, 32, 32, 6)
  a, b = np.split(x, 2, axis=-1)
  assert np.mean(np.abs(a + b)) < 0.02  # B = 255 - A, up to resampling overshoot and rounding
  with pytest.raises(DataError, match='has no train/'):
    sources.paired_folders(str(tmp_path / 'val'), 32, 3)


def test_step_updates_both_players_finitely():
  config = _config()
  state = pix2pix.create_state(config)
  batch = jax.tree.map(jnp.asarray, pix2pix.create_batches(config).batch(0))
  assert batch['a'].shape == batch['b'].shape == (2, 32, 32, 3)
  new, metrics = jax.jit(pix2pix.step_fn(config))(state, batch)
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


def test_folder_smoke_run(tmp_path):
  _write_pairs(tmp_path / 'data' / 'train', 4)
  config = _config()
  config.data.source, config.data.path = 'folder', str(tmp_path / 'data')
  state = train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert int(state.step) == 6 and (tmp_path / 'w' / 'samples' / 'final.png').exists()
