"""jaxgan.seeds: `config.num_seeds = N` trains N seeds vmapped, each equal to its single run."""

import json
import math
import os

import chex
import jax
import ml_collections
import numpy as np
import pytest

from jaxgan import configs, games, sample, seeds, train
from jaxgan.errors import ConfigError
from tests import helpers


def _toy_config(**overrides):
  config = helpers.smoke_config('experiments/toy2d/grid.py')
  config.optimizer = ml_collections.ConfigDict(
    {'g': {'name': 'sgd', 'learning_rate': 0.05}, 'd': {'name': 'sgd', 'learning_rate': 0.05}}
  )
  config.update(overrides)
  return config


def test_vmapped_seeds_equal_single_runs(tmp_path):
  both = train.train_and_evaluate(_toy_config(num_seeds=2), str(tmp_path / 'both'))
  single = train.train_and_evaluate(_toy_config(seed=1), str(tmp_path / 'one'))
  leaves = lambda state: jax.tree.leaves(state)  # static fields differ (modules built twice)
  chex.assert_trees_all_close(leaves(seeds.select(both, 1)), leaves(single), rtol=1e-5, atol=1e-6)
  with open(tmp_path / 'both' / 'results.json') as f:
    results = json.load(f)
  with open(tmp_path / 'one' / 'results.json') as f:
    alone = json.load(f)
  np.testing.assert_allclose(results['seed_1/mean_distance'], alone['mean_distance'], rtol=1e-4)
  per_seed = [results[f'seed_{i}/mean_distance'] for i in range(2)]
  np.testing.assert_allclose(results['mean_distance'], np.mean(per_seed))
  np.testing.assert_allclose(results['mean_distance_se'], np.std(per_seed, ddof=1) / np.sqrt(2))
  assert os.path.exists(tmp_path / 'both' / 'samples' / 'seed_1' / 'final.png')
  # sample / evaluate take a seed index; the seed of a vmapped run is the single run's.
  path = sample.sample_from_workdir(str(tmp_path / 'both'), n=8, fmt='npy', seed_index=1)
  path_one = sample.sample_from_workdir(str(tmp_path / 'one'), n=8, fmt='npy')
  np.testing.assert_allclose(np.load(path), np.load(path_one), rtol=1e-5, atol=1e-6)
  with pytest.raises(ConfigError, match='seed index 2 is out of range: this run trained 2'):
    sample.sample_from_workdir(str(tmp_path / 'both'), seed_index=2)


def test_seed_batches_are_each_seeds_own_batches():
  config = helpers.smoke_config()
  config.num_seeds = 3
  both = seeds.game_of(config).create_batches(config)
  for i in range(3):
    one = games.get('gan').create_batches(seeds.seed_config(config, i))
    np.testing.assert_array_equal(
      both.batch(5)['image'][8 * i : 8 * (i + 1)], one.batch(5)['image']
    )
  assert both.spec()['image'][0][0] == 24


def test_bad_seed_settings():
  config = _toy_config(num_seeds=2)
  config.parallel = 'pmap'
  with pytest.raises(ConfigError, match="does not train under config.parallel='pmap'"):
    configs.validate(config)
  with pytest.raises(ConfigError, match='num_seeds must be >= 1'):
    seeds.game_of(_toy_config(num_seeds=0))


def test_summarise_gives_each_seed_then_the_mean_and_standard_error():
  out = seeds.summarise([{'fid': 1.0, 'kl': float('inf')}, {'fid': 3.0, 'kl': 2.0}])
  assert {k: out[k] for k in ('seed_0/fid', 'seed_1/fid', 'fid', 'fid_se')} == {
    'seed_0/fid': 1.0,
    'seed_1/fid': 3.0,
    'fid': 2.0,
    'fid_se': pytest.approx(1.0),  # std [1, 3] (ddof 1) = sqrt(2), over sqrt(2 seeds)
  }
  assert out['seed_0/kl'] == out['kl'] == math.inf and math.isnan(out['kl_se'])
  assert seeds.summarise([{'fid': 5.0}]) == {'seed_0/fid': 5.0, 'fid': 5.0, 'fid_se': 0.0}
