"""Every experiment config loads, shrinks with :smoke and validates; CLI errors are clear."""

import ast
import os
import re
import subprocess
import sys

import ml_collections
import pytest

from jaxgan import configs, schema
from jaxgan.errors import ConfigError
from tests.helpers import CONFIG_FILES, ROOT, load_config


def test_the_expected_configs_exist():
  expected = {
    'experiments/dcgan/digits.py',
    'experiments/dcgan/mnist.py',
    'experiments/dcgan/cifar10.py',
    'experiments/dcgan/celeba64.py',
    'experiments/dcgan/folder.py',
    'experiments/toy2d/ring.py',
    'experiments/toy2d/grid.py',
  }
  assert expected <= set(CONFIG_FILES)


@pytest.mark.parametrize('path', CONFIG_FILES)
def test_config_loads_and_validates(path):
  for arg in (None, 'smoke'):
    config = load_config(path, arg)
    configs.validate(config)
  smoke = load_config(path, 'smoke')
  assert smoke.train.num_steps <= 10
  assert smoke.train.batch_size <= 16 * smoke.loss.get('n_critic', 1)


@pytest.mark.parametrize('path', CONFIG_FILES)
def test_config_docstring_gives_command_and_expectation(path):
  with open(os.path.join(ROOT, path)) as f:
    doc = ast.get_docstring(ast.parse(f.read()))
  assert 'Command' in doc and 'python -m jaxgan.experiments.' in doc and 'Expected' in doc


def test_unknown_config_argument():
  with pytest.raises(ConfigError, match="unknown config argument 'tiny'"):
    load_config('experiments/dcgan/digits.py', 'tiny')


def test_field_references_keep_data_and_model_in_step():
  config = load_config('experiments/dcgan/digits.py')
  config.model.size = 64
  assert config.data.size == 64


@pytest.mark.parametrize(
  'change,message',
  [
    (lambda c: setattr(c.train, 'batch_size', 0), 'batch_size must be >= 1'),
    (lambda c: setattr(c.loss, 'name', 'nonsaturating'), 'known losses'),
    (lambda c: setattr(c.loss, 'n_critic', 3), 'must divide into'),
    (lambda c: setattr(c.train, 'ema_decay', 1.0), 'ema_decay'),
    (lambda c: c.loss.update(simultaneous=True, n_critic=2), 'need n_critic=1; got 2'),
  ],
)
def test_validation_errors(change, message):
  config = load_config('experiments/dcgan/digits.py')
  change(config)
  with pytest.raises(ConfigError, match=message):
    configs.validate(config)


def test_data_model_mismatch():
  # Configs tie data.size to model.size with a FieldReference; a plain dict can still disagree.
  config = ml_collections.ConfigDict(load_config('experiments/dcgan/digits.py').to_dict())
  config.data.size = 16
  with pytest.raises(ConfigError, match='must match config.model'):
    configs.validate(config)


def test_experiment_differences_ignore_resumable_keys():
  old = load_config('experiments/dcgan/digits.py').to_dict()
  longer = load_config('experiments/dcgan/digits.py')
  longer.train.num_steps *= 2
  longer.train.log_every = 7
  assert schema.experiment_differences(old, longer.to_dict()) == []
  other = load_config('experiments/dcgan/digits.py')
  other.optimizer.g.learning_rate = 1e-3
  other.seed = 5
  assert schema.experiment_differences(old, other.to_dict()) == [
    'optimizer.g.learning_rate',
    'seed',
  ]


def test_a_config_stored_before_a_key_was_added_resumes():
  # `loss.simultaneous` came after runs were stored: its absence reads as its old default.
  new = load_config('experiments/toy2d/ring.py').to_dict()
  stored = {**new, 'loss': {k: v for k, v in new['loss'].items() if k != 'simultaneous'}}
  assert schema.experiment_differences(stored, new) == []
  pacgan = load_config('experiments/toy2d/pacgan.py', 'ring').to_dict()
  stored = {**pacgan, 'loss': {k: v for k, v in pacgan['loss'].items() if k != 'simultaneous'}}
  assert schema.experiment_differences(stored, pacgan) == ['loss.simultaneous']


def _cli(*args):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run(
    [sys.executable, '-m', 'jaxgan.experiments.dcgan', *args],
    capture_output=True,
    text=True,
    cwd=ROOT,
    env=env,
    timeout=120,
  )


def test_cli_rejects_unknown_key_and_wrong_type(tmp_path):
  cfg = '--config=experiments/dcgan/digits.py:smoke'
  result = _cli(cfg, f'--workdir={tmp_path}', '--config.train.num_stepz=3')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
    "error: unknown config key in --config.train.num_stepz (did you mean 'num_steps'?); "
    'see the config file for the keys'
  )
  result = _cli(cfg, f'--workdir={tmp_path}', '--config.train.num_steps=three')
  assert result.returncode == 1
  assert (
    result.stderr.strip()
    .splitlines()[-1]
    .startswith('error: flag --config.train.num_steps=three: invalid literal for int()')
  )
  result = _cli('--config=experiments/dcgan/missing.py', f'--workdir={tmp_path}')
  assert result.returncode == 1 and 'No such file' in result.stderr.strip().splitlines()[-1]
  result = _cli(cfg, f'--workdir={tmp_path}', '--config.loss.name=vanilla')
  assert result.returncode == 1
  assert (
    result.stderr.strip()
    .splitlines()[-1]
    .startswith("error: config.loss: unknown GAN loss 'vanilla'")
  )
  assert not os.path.exists(tmp_path / 'checkpoints')


def test_configs_load_reads_a_config_file_as_the_flag_does(tmp_path):
  path = os.path.join(ROOT, 'experiments/dcgan/digits.py')
  assert configs.load(f'{path}:smoke').to_dict() == configs.load(path, 'smoke').to_dict()
  assert configs.load(path).train.num_steps == 1500
  with pytest.raises(ConfigError, match='no config file'):
    configs.load(str(tmp_path / 'missing.py'))
  (tmp_path / 'empty.py').write_text('x = 1\n')
  with pytest.raises(ConfigError, match='defines no get_config'):
    configs.load(str(tmp_path / 'empty.py'))


@pytest.mark.parametrize(
  'source,line,message',
  [
    ('def get_config(arg=None)\n  return 1\n', 1, "SyntaxError: expected ':'"),
    ('import no_such_module_here\n', 1, "ModuleNotFoundError: No module named 'no_such"),
    ('def get_config(arg=None):\n  return 1 / 0\n', 2, 'ZeroDivisionError: division by zero'),
  ],
)
def test_a_config_file_that_fails_to_load_is_one_line_naming_the_line(
  tmp_path, source, line, message
):
  path = tmp_path / 'bad.py'
  path.write_text(source)
  expected = f'cannot load --config={path}: line {line}: {message}'
  with pytest.raises(ConfigError, match=re.escape(expected)):
    configs.load(str(path))
  if line == 2:  # the command line says the same, in one line, exit status 1
    result = _cli(f'--config={path}', f'--workdir={tmp_path / "w"}')
    assert result.returncode == 1 and result.stderr.strip() == f'error: {expected}', result.stderr
