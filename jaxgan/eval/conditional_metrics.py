"""Class-conditional metrics: intra-class FID and the classification accuracy score (CAS).

Whether a class-conditional generator draws class k when asked for k, as well as
how real its images look (StudioGAN reports both for its conditional models):

- `intra_fid`: the FID of the samples asked for class k against the reference
  images labelled k, per class, and their mean (Miyato & Koyama 2018). A pure
  function of features and labels (any extractor). FID is biased upwards at small
  counts and here a class has only a tenth of the samples: the counts per class
  are written beside it (`class_counts`).
- `ClassificationAccuracyScore`: the small digit classifier
  (`jaxgan.eval.classifier`: its architecture, schedule and step count) trained
  on the generated samples and the classes they were asked for only, tested on
  the real images the classifier's own training holds out (Ravuri & Vinyals
  2019): `cas`, beside `cas_real`, the same classifier trained on the real data.
  Digits and MNIST-5k only, where the classifier exists.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import ConfigError
from jaxgan.eval import classifier, metrics


def class_counts(labels: np.ndarray, classes: np.ndarray) -> list[int]:
  """How many of `labels` are each of `classes`.

  >>> class_counts(np.array([0, 2, 2]), np.arange(3))
  [1, 0, 2]
  """
  labels = np.asarray(labels)
  return [int(np.sum(labels == k)) for k in np.asarray(classes)]


def intra_fid(
  real: np.ndarray, real_labels: np.ndarray, fake: np.ndarray, asked: np.ndarray
) -> dict[str, float]:
  """FID of each asked class k: `fake[asked == k]` against `real[real_labels == k]`.

  Args:
    real: `[N, F]` reference features.
    real_labels: `[N]` their classes.
    fake: `[M, F]` sample features.
    asked: `[M]` the class each sample was asked for.

  Returns:
    `intra_fid_<k>` for each class in `asked`, and `intra_fid`, their mean.

  Raises:
    ValueError: mismatched shapes, or a class with fewer than 2 samples or references.

  >>> rng = np.random.default_rng(0)
  >>> labels = np.repeat([0, 1], 200)
  >>> x = rng.normal(size=(400, 2)) + 10 * labels[:, None]
  >>> round(intra_fid(x, labels, x, labels)['intra_fid'], 6)
  0.0
  >>> swapped = intra_fid(x, labels, x, 1 - labels)  # |mu_0 - mu_1|^2 = 2 * 10^2
  >>> round(swapped['intra_fid'], -1), sorted(swapped)
  (200.0, ['intra_fid', 'intra_fid_0', 'intra_fid_1'])
  """
  real, fake = np.asarray(real), np.asarray(fake)
  real_labels, asked = np.asarray(real_labels), np.asarray(asked)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(
      f'intra_fid takes [N, F] and [M, F] features; got {list(real.shape)}, {list(fake.shape)}'
    )
  if real_labels.shape != real.shape[:1] or asked.shape != fake.shape[:1]:
    raise ValueError(
      f'one label per feature row: {list(real_labels.shape)} for {len(real)} references, '
      f'{list(asked.shape)} for {len(fake)} samples'
    )
  out = {}
  for k in np.unique(asked):
    mine, theirs = fake[asked == k], real[real_labels == k]
    if len(mine) < 2 or len(theirs) < 2:
      raise ValueError(
        f'intra_fid of class {k}: {len(mine)} samples and {len(theirs)} reference images '
        '(at least 2 each)'
      )
    out[f'intra_fid_{k}'] = metrics.fid(theirs, mine)
  return {'intra_fid': float(np.mean(list(out.values()))), **out}


def check_reference(labels: np.ndarray | None, num_classes: int, description: str) -> None:
  """Refuses a reference set without at least 2 images labelled each of `num_classes` classes."""
  if labels is None:
    raise ConfigError(
      f"metric intra_fid needs the reference images' labels; {description} has none "
      '(use --ref=train or a labelled set)'
    )
  counts = class_counts(labels, np.arange(num_classes))
  if min(counts) < 2:
    raise ConfigError(
      f'metric intra_fid: the reference set has {counts} images per class (at least 2 each; '
      'a larger --n takes more)'
    )


def to_classifier_inputs(images: np.ndarray, size: int) -> np.ndarray:
  """uint8 `[N, H, W, C]` -> grey `[N, size, size, 1]` in [-1, 1] (as `features.Classifier`)."""
  x = np.mean(np.asarray(images, np.float32), axis=-1, keepdims=True) / 127.5 - 1.0
  if x.shape[1:3] != (size, size):
    x = np.asarray(jax.image.resize(jnp.asarray(x), (len(x), size, size, 1), 'bilinear'))
  return x


class ClassificationAccuracyScore:
  """CAS: the digit classifier trained on generated samples, its accuracy on held-out real digits.

  Built once per evaluation: the held-out real images and `cas_real`, the
  held-out accuracy of the classifier trained on real data with the same number
  of steps: the cached classifier's recorded accuracy where it was trained for
  those steps (same held-out split), else one trained here on the real training
  split from `seed`.

  Args:
    name: the classifier (`classifier.DATASETS`: 'digits' or 'mnist5k').
    path: the MNIST-5k file (`config.data.path`), '' for the installed one.
    steps: training steps (0: the classifier's own, `classifier.DATASETS[name].steps`).
    seed: the classifier's initialisation, batches and shifts.
  """

  def __init__(self, name: str, *, path: str = '', steps: int = 0, seed: int = 0):
    if name not in classifier.DATASETS:
      known = ', '.join(classifier.DATASETS)
      raise ConfigError(f'metric cas: no classifier {name!r}; known: {known}')
    self.name, self.seed = name, seed
    self.size = classifier.DATASETS[name].size
    self.steps = steps or classifier.DATASETS[name].steps
    self.test_images, self.test_labels = classifier.held_out(name, path)
    _, info = classifier.load(name, path=path)
    if info['steps'] == self.steps and info['test_examples'] == len(self.test_labels):
      self.real = float(info['test_accuracy'])
      self.real_from = f'the cached {name} classifier (seed {info["seed"]})'
    else:
      _, info = classifier.train(name, path=path, steps=self.steps, seed=seed)
      self.real = float(info['test_accuracy'])
      self.real_from = f'trained on the real training split here (seed {seed})'

  def settings(self) -> dict:
    return {
      'cas_classifier': f'{self.name} CNN trained on the samples and their asked classes',
      'cas_steps': self.steps,
      'cas_seed': self.seed,
      'cas_test_examples': len(self.test_labels),
      'cas_real_from': self.real_from,
    }

  def __call__(self, samples: np.ndarray, asked: np.ndarray) -> dict[str, float]:
    """`cas` and `cas_real` of uint8 `[N, H, W, C]` samples and the classes they were asked for."""
    asked = np.asarray(asked, np.int32)
    if asked.shape != (len(samples),):
      raise ValueError(f'cas: one asked class per sample; {list(asked.shape)} for {len(samples)}')
    if asked.min() < 0 or asked.max() >= classifier.CNN.num_classes:
      raise ValueError(f'cas: asked classes {asked.min()}..{asked.max()} outside the 10 digits')
    x = to_classifier_inputs(samples, self.size)
    params, _ = classifier.fit(x, asked, steps=self.steps, seed=self.seed)
    cas = classifier.accuracy(params, self.test_images, self.test_labels)
    return {'cas': cas, 'cas_real': self.real}
