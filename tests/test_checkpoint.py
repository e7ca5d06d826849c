"""jaxgan.checkpoint: Orbax save/restore, the experiment guard, and reading a trained workdir.

What a whole run does with its checkpoints under faults (a save that fails, torn
or truncated checkpoint files on resume, kill -9) is in tests/test_faults.py.
"""

import os

import chex
import jax
import jax.numpy as jnp
import pytest

from jaxgan import checkpoint, train
from jaxgan.errors import CheckpointError, ConfigError
from tests.helpers import smoke_config


@pytest.fixture(scope='module')
def digits_run(tmp_path_factory):
  """(workdir, final state) of the demo's smoke config: 6 steps, checkpoints at 3 and 6."""
  workdir = tmp_path_factory.mktemp('digits')
  return workdir, train.train_and_evaluate(smoke_config(), str(workdir))


def test_checkpointer_saves_restores_and_sets_an_unreadable_step_aside(tmp_path):
  config = {'seed': 0, 'train': {'num_steps': 2}}
  states = [{'w': jnp.arange(3.0) + step, 'step': jnp.asarray(step)} for step in range(3)]
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  for step in (1, 2):
    ckpt.save(step, states[step], config)
  ckpt.close()
  ckpt = checkpoint.Checkpointer(str(tmp_path), create=False)
  assert ckpt.all_steps() == [1, 2] and ckpt.stored_config() == config
  chex.assert_trees_all_equal(ckpt.restore(states[0]), states[2])  # onto the target's structure
  chex.assert_trees_all_equal(ckpt.restore(states[0], 1), states[1])
  ckpt.close()
  # A torn write of step 2's config: step 2 is moved aside (kept, not deleted), step 1 restored.
  (tmp_path / 'checkpoints' / '2' / 'config' / 'metadata').write_text('{"seed": 0, "trunc')
  ckpt = checkpoint.Checkpointer(str(tmp_path), create=False)
  state, step = ckpt.restore_newest(states[0], config)
  ckpt.close()
  assert step == 1 and ckpt.unreadable == [2]
  chex.assert_trees_all_equal(state, states[1])
  assert os.listdir(tmp_path / 'checkpoints_unreadable') == ['2']
  empty = checkpoint.Checkpointer(str(tmp_path / 'new'))
  assert empty.restore_newest(states[0], config) is None  # nothing saved yet: a fresh start
  empty.close()


def test_a_different_experiment_is_refused(digits_run):
  workdir, _ = digits_run
  before = sorted(os.listdir(workdir / 'checkpoints'))
  changes = [
    lambda c: setattr(c, 'seed', 1),
    lambda c: setattr(c.loss, 'name', 'hinge'),
    lambda c: setattr(c.optimizer.d, 'learning_rate', 1e-3),
    lambda c: setattr(c.model, 'width', 4),
    lambda c: setattr(c.data, 'source', 'folder'),
  ]
  for change in changes:
    config = smoke_config()
    change(config)
    with pytest.raises(CheckpointError, match='holds a different experiment'):
      train.train_and_evaluate(config, str(workdir))
  assert sorted(os.listdir(workdir / 'checkpoints')) == before


# ----- reading a trained workdir ---------------------------------------------------------------


def test_checkpoint_name_of_latest_best_and_best_metric(tmp_path):
  assert checkpoint.checkpoint_name(str(tmp_path)) == 'checkpoints'
  assert checkpoint.checkpoint_name(str(tmp_path), 'latest') == 'checkpoints'
  assert checkpoint.checkpoint_name(str(tmp_path), 'best:fid') == 'checkpoints_best_fid'
  os.makedirs(tmp_path / 'checkpoints_best_kid')
  assert checkpoint.checkpoint_name(str(tmp_path), 'best') == 'checkpoints_best_kid'


def test_checkpoint_name_needs_exactly_one_best_and_a_known_name(tmp_path):
  for workdir in (tmp_path, tmp_path / 'missing'):
    with pytest.raises(
      CheckpointError,
      match=r'0 best checkpoints in .* \(none: the run set no config.train.best_metric\); '
      'name one: --checkpoint=best:METRIC',
    ):
      checkpoint.checkpoint_name(str(workdir), 'best')
  os.makedirs(tmp_path / 'checkpoints_best_kid')
  os.makedirs(tmp_path / 'checkpoints_best_fid')
  with pytest.raises(
    CheckpointError,
    match=r'2 best checkpoints in .* \(checkpoints_best_fid, checkpoints_best_kid\)',
  ):
    checkpoint.checkpoint_name(str(tmp_path), 'best')
  with pytest.raises(ConfigError, match="unknown --checkpoint 'newest'; use latest, best or best:"):
    checkpoint.checkpoint_name(str(tmp_path), 'newest')


def test_load_state_gives_the_stored_config_and_the_newest_state(digits_run):
  workdir, trained = digits_run
  config, state = checkpoint.load_state(str(workdir), 'latest')
  expected = smoke_config()
  assert int(state.step) == 6 and config.num_seeds == 1
  assert (config.seed, config.model.width) == (expected.seed, expected.model.width)
  # Bit-identical arrays (the static optimizer closures differ between create_state calls).
  chex.assert_trees_all_equal(jax.tree.leaves(state), jax.tree.leaves(trained))


def test_load_state_errors(digits_run, tmp_path):
  workdir, _ = digits_run
  with pytest.raises(CheckpointError, match='no checkpoints in .* train there first'):
    checkpoint.load_state(str(tmp_path / 'nothing'))
  os.makedirs(tmp_path / 'empty' / 'checkpoints')
  with pytest.raises(CheckpointError, match='no checkpoint in .*; train first'):
    checkpoint.load_state(str(tmp_path / 'empty'))
  with pytest.raises(ConfigError, match='seed index 1 is out of range: this run trained 1 seed'):
    checkpoint.load_state(str(workdir), seed_index=1)
  with pytest.raises(CheckpointError, match='0 best checkpoints'):
    checkpoint.load_state(str(workdir), 'best')
