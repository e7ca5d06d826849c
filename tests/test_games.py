"""The game registry: one module per game, one dispatch, every config validated at start-up."""

import ast
import json
import os

import pytest

from jaxgan import configs, games, schema, train
from jaxgan.errors import ConfigError, JaxganError
from tests.helpers import CONFIG_FILES, ROOT, load_config

GAME_DIR = os.path.join(ROOT, 'jaxgan', 'games')


def _imports(path: str) -> set[str]:
  """Every module `path` imports (`from a import b` counts as `a` and `a.b`)."""
  with open(path) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found |= {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
      found |= {node.module} | {f'{node.module}.{alias.name}' for alias in node.names}
  return found


def test_the_registry_lists_each_game_module():
  assert games.known() == ['cyclegan', 'gan', 'pix2pix', 'stylegan2']
  for name in games.known():
    game = games.get(name)
    assert game.name == name and game.entry_point.startswith('jaxgan.experiments.')
  assert games.for_model('dcgan').name == 'gan' and games.for_model('pix2pix').name == 'pix2pix'
  with pytest.raises(ConfigError, match="unknown config.game 'stylegan'; known: cyclegan, gan"):
    games.get('stylegan')
  with pytest.raises(ConfigError, match="no game trains model 'unet'"):
    games.for_model('unet')


def test_the_loop_and_the_games_import_no_game():
  game_modules = {f'jaxgan.games.{name}' for name in games.known()}
  loop = _imports(os.path.join(ROOT, 'jaxgan', 'train.py'))
  assert not loop & game_modules, loop & game_modules
  for name in games.known():
    imported = _imports(os.path.join(GAME_DIR, f'{name}.py'))
    assert not imported & (game_modules - {f'jaxgan.games.{name}'}), (name, imported)


@pytest.mark.parametrize(
  'path',
  [
    'experiments/dcgan/digits.py',
    'experiments/toy2d/ring.py',
    'experiments/cyclegan/digits.py',
    'experiments/pix2pix/digits.py',
  ],
)
def test_every_game_is_validated_at_start_up(path, tmp_path):
  for key in ('log_every', 'sample_every', 'checkpoint_every'):
    config = load_config(path, 'smoke')
    config.train[key] = 0
    with pytest.raises(ConfigError, match=f'config.train.{key} must be >= 1; got 0'):
      train.train_and_evaluate(config, str(tmp_path))
  config = load_config(path, 'smoke')
  config.eval.every = -1
  with pytest.raises(ConfigError, match='config.eval.every must be >= 0'):
    train.train_and_evaluate(config, str(tmp_path))
  assert not os.path.exists(tmp_path / 'checkpoints')


@pytest.mark.parametrize('path', CONFIG_FILES)
def test_smoke_shrinks_every_config_through_its_game(path):
  config = load_config(path, 'smoke')
  configs.validate(config)
  assert config.train.num_steps <= 10
  assert config.train.batch_size <= 16 * config.loss.get('n_critic', 1)
  full = load_config(path)
  size = lambda c: c.model.get('width', c.model.get('features', 0))
  assert size(config) <= size(full)


def test_games_without_ema_or_sampling_refuse_clearly():
  config = load_config('experiments/cyclegan/digits.py', 'smoke')
  config.train.use_ema = True
  with pytest.raises(ConfigError, match="config.game='cyclegan' keeps no EMA generator"):
    configs.validate(config)
  with pytest.raises(JaxganError, match='does not sample from noise; use .*translate'):
    games.get('cyclegan').generate(None, None)
  with pytest.raises(JaxganError, match='does not translate images; use .*sample'):
    games.get('gan').translate(None, None, 'ab')


def test_metrics_follow_the_sample_grids_unless_scheduled(tmp_path):
  config = load_config('experiments/toy2d/ring.py', 'smoke')
  config.train.num_steps, config.train.sample_every, config.eval.every = 4, 2, 0
  assert schema.eval_every(config) == 2
  config.eval.every = 4  # mode coverage at step 4 only; grids at 2 and 4
  train.train_and_evaluate(config, str(tmp_path))
  logged = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in logged if 'eval/modes_captured' in r] == [4, 4]  # step 4 + final
  assert sorted(os.listdir(tmp_path / 'samples')) == [
    'final.png',
    'step_0000002.png',
    'step_0000004.png',
  ]
