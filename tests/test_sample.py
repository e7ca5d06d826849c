"""jaxgan.sample: grids, `.npy` outputs and interpolation strips of a trained workdir, by class.

Latent arithmetic (`sample.arithmetic`) is tested on tests/test_evaluation.py's
trained digits run (`test_latent_arithmetic_grids`), which that file's other
tests share; a vmapped run's `seed_index` in tests/test_seeds.py.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxgan import images, sample, train
from jaxgan.errors import CheckpointError, ConfigError
from jaxgan.eval import features
from tests.helpers import ROOT, smoke_config


def test_sample_cli_png_npy_and_interpolation(tmp_path):
  train.train_and_evaluate(smoke_config(), str(tmp_path))
  png = sample.sample_from_workdir(str(tmp_path), n=9, output=str(tmp_path / 'g.png'))
  assert os.path.exists(png)
  npy = sample.sample_from_workdir(str(tmp_path), n=5, fmt='npy')
  x = np.load(npy)
  assert x.shape == (5, 32, 32, 1) and np.abs(x).max() <= 1
  strip = sample.sample_from_workdir(str(tmp_path), n=2, interpolate=True, fmt='npy')
  assert np.load(strip).shape == (2 * 4, 32, 32, 1)
  with pytest.raises(CheckpointError, match='no checkpoints in'):
    sample.sample_from_workdir(str(tmp_path / 'nothing'))
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'jaxgan.experiments.sample',
      f'--workdir={tmp_path}',
      '--n=4',
      '--format=npy',
      '--noema',
      f'--output={tmp_path / "cli.npy"}',
    ],
    capture_output=True,
    text=True,
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS='cpu'),
    timeout=120,
  )
  assert result.returncode == 0, result.stderr
  # --noema samples G itself; the default, the EMA generator (6 steps: they differ).
  raw = np.load(sample.sample_from_workdir(str(tmp_path), n=4, fmt='npy', use_ema=False))
  ema = np.load(sample.sample_from_workdir(str(tmp_path), n=4, fmt='npy'))
  np.testing.assert_allclose(np.load(tmp_path / 'cli.npy'), raw, rtol=1e-5, atol=1e-7)
  assert raw.shape == (4, 32, 32, 1) and np.abs(raw - ema).max() > 0.01 * np.abs(raw).max()


# ----- class-conditional runs ------------------------------------------------------------------


@pytest.fixture(scope='module')
def conditional_run(tmp_path_factory):
  """A projection-D conditional DCGAN trained briefly on the digits, with class accuracy."""
  workdir = tmp_path_factory.mktemp('conditional')
  config = smoke_config('experiments/recipes/conditional.py', keep_evals=True)
  config.model.width, config.model.latent_dim = 16, 32
  config.train.num_steps = 500
  config.train.batch_size = 64
  config.train.sample_every = config.train.checkpoint_every = 500
  config.evals.classifier.n = 500
  train.train_and_evaluate(config, str(workdir))
  return workdir


def test_conditional_samples_are_the_asked_class(conditional_run):
  with open(conditional_run / 'results.json') as f:
    results = json.load(f)
  # Chance is 0.1 (measured: 0.66 after these 500 steps).
  assert results['classifier_class_accuracy'] > 0.4, results
  assert sum(f'classifier_class_accuracy_{k}' in results for k in range(10)) == 10
  path = sample.sample_from_workdir(str(conditional_run), n=8, label='rows')
  assert np.asarray(Image.open(path)).shape[:2] == (10 * 34 + 2, 8 * 34 + 2)
  threes = sample.sample_from_workdir(str(conditional_run), n=16, label='3', fmt='npy')
  extractor = features.Classifier('digits')
  labels = extractor(images.to_uint8(np.load(threes)))['logits'].argmax(-1)
  assert np.mean(labels == 3) > 0.4
  with pytest.raises(ConfigError, match="--label='12': give a class 0..9 or 'rows'"):
    sample.sample_from_workdir(str(conditional_run), label='12')
