"""Class-conditional metrics: intra-class FID and the classification accuracy score (CAS).

On the real digits with their labels (the cached digits classifier's features; no
generator): a class against its own reference images, against another class, and
the CAS classifier trained on real or label-shuffled digits.
"""

import doctest
import json

import numpy as np
import pytest

from jaxgan.data import sources
from jaxgan.errors import ConfigError
from jaxgan.eval import base, classifier, conditional_metrics, evaluators, options, quality
from tests.helpers import smoke_config

CAS_STEPS = 60  # the classifier's own schedule is 1,200 steps; at 60: ~0.97 held-out accuracy


def conditional_config():
  return smoke_config('experiments/recipes/conditional.py')  # digits, 10 classes


def evaluation(metrics: str, n: int, **kw) -> quality.Evaluation:
  opts = options.Options(
    metrics=options.parse_metrics(metrics), n=n, features='classifier', progress=False, **kw
  )
  return quality.Evaluation(opts, conditional_config())


def unit(pixels: np.ndarray) -> np.ndarray:
  return pixels.astype(np.float32) / 127.5 - 1.0


def test_doctests():
  assert doctest.testmod(conditional_metrics).failed == 0


def test_intra_fid_is_zero_for_a_class_against_itself_and_large_against_another():
  ev = evaluation('intra_fid', 600)
  # The reference set carries the labels of the images it drew from the run's data.
  grey, labels = sources.digit_images(32)
  order = np.sort(np.random.default_rng(0).permutation(len(grey))[:600])
  np.testing.assert_array_equal(ev.ref.labels, labels[order])
  real, asked = unit(ev.ref.data), ev.ref.labels
  same = ev(real, asked)[0]
  assert sorted(same) == ['intra_fid', *(f'intra_fid_{k}' for k in range(10))]
  assert all(v < 1e-6 for v in same.values()), same
  swapped = ev(real, (asked + 1) % 10)[0]  # the images of class k - 1 asked for as class k
  # Other real digits of the right class: FID's small-sample bias, far below a wrong class.
  others = np.setdiff1d(np.arange(len(grey)), order)[:400]
  fresh = ev(grey[others, ..., None] * 2.0 - 1.0, labels[others])[0]
  assert min(swapped.values()) > 5 * max(fresh.values()), (swapped, fresh)
  assert swapped['intra_fid'] == pytest.approx(
    np.mean([swapped[f'intra_fid_{k}'] for k in range(10)])
  )
  settings = ev.settings()
  assert settings['intra_fid_samples_per_class'] == [60] * 10
  assert settings['intra_fid_reference_per_class'] == np.bincount(labels[order]).tolist()
  assert 'intra_fid_reference_per_class: [' in quality.format_table(same, settings)


def test_cas_of_real_digits_is_the_classifier_accuracy_and_of_shuffled_labels_chance():
  ev = evaluation('cas', 20, cas_steps=CAS_STEPS)
  grey, labels = sources.digit_images(32)
  trained_on, held_out = classifier._split(len(grey))
  real = grey[trained_on, ..., None] * 2.0 - 1.0  # the training split, as G's samples
  values = ev(real, labels[trained_on])[0]
  _, cached = classifier.load('digits')  # 1,200 steps, the same held-out split
  assert values['cas_real'] > 0.95 and abs(values['cas'] - values['cas_real']) < 0.03, values
  assert abs(values['cas'] - cached['test_accuracy']) < 0.05, (values, cached)
  shuffled = np.random.default_rng(0).permutation(labels[trained_on])
  assert ev(real, shuffled)[0]['cas'] < 0.25  # chance: 0.1
  settings = ev.settings()
  assert settings['cas_steps'] == CAS_STEPS and settings['cas_test_examples'] == len(held_out)
  assert 'trained on the real training split here' in settings['cas_real_from']
  # At the classifier's own schedule, cas_real is the cached classifier's recorded accuracy.
  own = conditional_metrics.ClassificationAccuracyScore('digits')
  assert own.steps == cached['steps'] and own.real == cached['test_accuracy']
  assert 'cached digits classifier' in own.settings()['cas_real_from']


def test_the_training_time_evaluator_logs_both_with_their_settings(tmp_path, monkeypatch):
  grey, labels = sources.digit_images(32)
  by_class = [grey[labels == k, ..., None] * 2.0 - 1.0 for k in range(10)]

  def generate(state, game, n, *, labels, **kw):  # digits of the asked classes
    del state, game, kw
    return np.stack([by_class[k][i // 10] for i, k in enumerate(labels[:n])])

  monkeypatch.setattr(evaluators, 'generate', generate)
  config = conditional_config()
  section = options.quality_config(
    features='classifier', metrics='fid,intra_fid,cas', n=200, cas_steps=20
  )
  outputs = base.Outputs(str(tmp_path), writer=None, dp=None)
  quality_eval = evaluators.Quality('cond', section, config, outputs, game=None)
  values = quality_eval(None, 10, final=True)
  names = ['fid', 'intra_fid', *(f'intra_fid_{k}' for k in range(10)), 'cas', 'cas_real']
  assert sorted(values) == sorted(f'cond_{m}' for m in names)
  assert 0 < values['cond_intra_fid'] < 500 and 0 <= values['cond_cas'] <= 1
  again = quality_eval(None, 20)  # the same samples: the same values (the same seed)
  assert again['cond_cas'] == values['cond_cas']
  settings = json.loads((tmp_path / 'eval_settings.json').read_text())['cond']
  assert settings['intra_fid_samples_per_class'] == [20] * 10
  assert settings['cas_steps'] == 20 and settings['cas_test_examples'] == 360


def test_conditional_metrics_refuse_what_they_cannot_measure(tmp_path):
  unconditional = smoke_config()
  with pytest.raises(ConfigError, match='intra_fid is for class-conditional generators'):
    quality.Evaluation(options.Options(metrics=('intra_fid',), n=20), unconditional)
  with pytest.raises(ConfigError, match='cas is for class-conditional generators'):
    quality.Evaluation(options.Options(metrics=('cas',), n=20), unconditional)
  with pytest.raises(ConfigError, match='at least 2 samples per class: --n >= 20'):
    evaluation('intra_fid', 19)
  no_labels = tmp_path / 'stats.npz'
  np.savez(no_labels, features=np.zeros((4, 128), np.float32))
  with pytest.raises(ConfigError, match="needs the reference images' labels"):
    evaluation('intra_fid', 20, ref=str(no_labels))
  folder = conditional_config()
  folder.data.source = 'folder'
  with pytest.raises(ConfigError, match='no digit classifier'):
    quality.Evaluation(options.Options(metrics=('cas',), n=20, ref=str(no_labels)), folder)
  with pytest.raises(ConfigError, match='unknown metrics'):
    options.parse_metrics('intra_fid,cas,bogus')
