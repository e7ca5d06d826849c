"""One measurement of a generator: samples, their features, the metrics, with their conditions.

`Evaluation(options, config)` builds the feature extractor and the reference
features once; calling it on generator outputs gives the asked metrics
(`jaxgan.eval.metrics`) and the settings they were measured under (features
and weights, resize, sample and reference counts). `generate` draws the
samples in chunks with one jitted sampler per game.

Metrics (`--metrics` / `config.evals.<name>.metrics`):
  fid, kid, is, pr (precision/recall, k=3), dc (density/coverage, k=5),
  memorisation (pixel and feature space), class_coverage (labels by a digit
  classifier), modes (2-D mixtures: PacGAN's modes, % high quality, reverse KL);
  of class-conditional generators: class_accuracy, intra_fid and cas
  (`jaxgan.eval.conditional_metrics`).
"""

import functools
from typing import Any

import jax
import numpy as np

from jaxgan import images
from jaxgan.data import toy2d
from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import classifier, conditional_metrics, features, metrics, references
from jaxgan.eval.options import Options, check_metrics, feature_kind, is_2d


def make_extractor(kind: str, options: Options, config) -> features.Extractor:
  """The feature extractor of `kind` ('inception', 'classifier' or 'raw') for `config`'s data."""
  if kind == 'inception':
    return features.Inception(
      options.inception_weights,
      resize=options.resize,
      logits='is' in options.metrics,
      batch_size=options.batch_size,
      progress=options.progress,
    )
  if kind == 'classifier':
    name = options.classifier or classifier.for_data(config.data)
    return features.Classifier(name, path=_mnist5k_path(config))
  return features.Raw()


def _mnist5k_path(config) -> str:
  """The MNIST-5k file a run names (`config.data.path`), '' for the installed one."""
  return config.data.get('path', '') if config.data.source == 'mnist5k' else ''


def compute(
  names: tuple[str, ...],
  real: dict,
  fake: dict,
  *,
  fake_data: np.ndarray | None = None,
  real_data: np.ndarray | None = None,
  mixture: toy2d.Mixture | None = None,
  num_classes: int = 10,
  asked: np.ndarray | None = None,
  real_labels: np.ndarray | None = None,
  cas: conditional_metrics.ClassificationAccuracyScore | None = None,
) -> dict[str, float]:
  """The metrics `names` from reference (`real`) and sample (`fake`) features.

  The conditional ones need `asked` (the class each sample was asked for);
  intra_fid the reference set's `real_labels` too, cas the `cas` classifier
  set-up and the samples as uint8 images (`fake_data`).
  """
  out: dict[str, float] = {}
  needs_features = {'kid', 'pr', 'dc', 'memorisation', 'intra_fid'} & set(names)
  if needs_features and 'features' not in real:
    raise DataError(
      f'metrics {sorted(needs_features)} need reference features; the .npz holds only mu/sigma'
    )
  for name in names:
    if name == 'fid':
      ref_stats = (
        metrics.Stats(real['mu'], real['sigma'], 0)
        if 'features' not in real
        else metrics.stats(real['features'])
      )
      out['fid'] = metrics.fid_from_stats(ref_stats, metrics.stats(fake['features']))
    elif name == 'kid':
      out['kid'], out['kid_std'] = metrics.kid(real['features'], fake['features'])
    elif name == 'is':
      if 'logits' not in fake:
        raise ConfigError('metric is needs logits (Inception with its logits layer)')
      out['is'], out['is_std'] = metrics.inception_score(fake['logits'])
    elif name == 'pr':
      out.update(metrics.precision_recall(real['features'], fake['features'], k=3))
    elif name == 'dc':
      out.update(metrics.density_coverage(real['features'], fake['features'], k=5))
    elif name == 'memorisation':
      feat = metrics.memorisation(fake['features'], real['features'])
      out['memorised_features'] = feat['memorised']
      if fake_data is not None and real_data is not None:
        flat = lambda x: np.asarray(x, np.float32).reshape(len(x), -1)
        out['memorised_pixels'] = metrics.memorisation(flat(fake_data), flat(real_data))[
          'memorised'
        ]
    elif name == 'class_coverage':
      out.update(metrics.class_coverage(fake['logits'].argmax(-1), num_classes))
    elif name == 'class_accuracy':
      if asked is None:
        raise ConfigError('metric class_accuracy is for class-conditional generators')
      out.update(metrics.class_accuracy(fake['logits'].argmax(-1), asked, num_classes))
    elif name == 'intra_fid':
      if asked is None or real_labels is None:
        raise ConfigError(
          'metric intra_fid is for class-conditional generators and a labelled reference set'
        )
      out.update(
        conditional_metrics.intra_fid(real['features'], real_labels, fake['features'], asked)
      )
    elif name == 'cas':
      if asked is None or cas is None:
        raise ConfigError('metric cas is for class-conditional generators of digits')
      out.update(cas(fake_data, asked))
    elif name == 'modes':
      out.update(toy2d.mode_coverage(mixture, fake_data))
  return out


def memorisation_grid(
  fake_data: np.ndarray,
  fake_features: np.ndarray,
  real_data: np.ndarray,
  real_features: np.ndarray,
  *,
  rows: int = 8,
  k: int = 3,
) -> np.ndarray:
  """Each row: a sample | its k nearest training images in pixels | its k nearest in features."""
  rows = min(rows, len(fake_data))
  flat = lambda x: np.asarray(x, np.float32).reshape(len(x), -1)
  by_pixels, _ = metrics.nearest(flat(fake_data[:rows]), flat(real_data), k)
  by_features, _ = metrics.nearest(fake_features[:rows], real_features, k)
  tiles = []
  for i in range(rows):
    tiles += [fake_data[i], *real_data[by_pixels[i]], *real_data[by_features[i]]]
  as_float = np.stack(tiles).astype(np.float32) / 127.5 - 1.0
  return images.make_grid(as_float, ncol=1 + 2 * k)


class Evaluation:
  """The reusable part of an evaluation: extractor and reference features, built once."""

  def __init__(self, options: Options, config):
    self.options, self.config = options, config
    self.kind = feature_kind(options, config)
    self.num_classes = config.model.get('num_classes', 0)
    check_metrics(options, self.kind, self.num_classes)
    cas_name = ''  # the digit classifier of cas (ConfigError now where none fits the data)
    if 'cas' in options.metrics:
      cas_name = options.classifier or classifier.for_data(config.data)
    # The reference set before the network: a wrong --ref is the user's first mistake to hear of.
    self.ref = references.reference(options.ref, config, options.n, options.seed)
    if 'intra_fid' in options.metrics:
      conditional_metrics.check_reference(self.ref.labels, self.num_classes, self.ref.description)
    self.extractor = make_extractor(self.kind, options, config)
    self.real = references.reference_features(self.ref, self.extractor, self.kind, options)
    self.mixture = toy2d.get_mixture(config.data.name) if is_2d(config) else None
    self.cas = None
    if cas_name:
      self.cas = conditional_metrics.ClassificationAccuracyScore(
        cas_name,
        path=_mnist5k_path(config),
        steps=options.cas_steps,
        seed=options.seed,
      )

  def settings(self) -> dict[str, Any]:
    out = {
      **self.extractor.describe(),
      'samples': self.options.n,
      'reference': self.ref.description if self.ref.data is not None else self.options.ref,
      'reference_samples': self.ref.n or int(self.real.get('n', 0) or 0) or None,
    }
    if 'intra_fid' in self.options.metrics:  # FID's bias at small counts: the counts per class
      classes = np.arange(self.num_classes)
      asked = balanced_labels(self.config, self.options.n)
      counts = conditional_metrics.class_counts
      out['intra_fid_samples_per_class'] = counts(asked, classes)
      out['intra_fid_reference_per_class'] = counts(self.ref.labels, classes)
    if self.cas is not None:
      out.update(self.cas.settings())
    return {**out, 'metrics': list(self.options.metrics)}

  def __call__(
    self, samples: np.ndarray, asked: np.ndarray | None = None
  ) -> tuple[dict[str, float], dict]:
    """Metrics of generator outputs `samples` ([-1, 1] images or 2-D points).

    `asked`: the class each sample of a class-conditional G was asked for.
    """
    data = references.to_model_inputs(samples, self.kind)
    fake = self.extractor(data, desc='samples')
    values = compute(
      self.options.metrics,
      self.real,
      fake,
      fake_data=data,
      real_data=self.ref.data,
      mixture=self.mixture,
      asked=asked,
      real_labels=self.ref.labels,
      cas=self.cas,
    )
    return values, fake


@functools.cache
def jitted_generate(game):
  """One jitted sampler per game: evaluations every few steps reuse its compilation."""
  return jax.jit(game.generate, static_argnames='use_ema')


def generate(
  state,
  game,
  n: int,
  *,
  seed: int,
  use_ema: bool = True,
  dp=None,
  chunk: int = 500,
  labels: np.ndarray | None = None,
  truncation: float | None = None,
):
  """`n` generator outputs for latents drawn from `seed`, in chunks (of class `labels[i]`
  for a class-conditional G), with the game's truncation trick at `truncation` (None: none)."""
  z = np.asarray(jax.random.normal(jax.random.key(seed), (n, *state.latent_shape)))
  extra = {}
  if truncation is not None:
    z, extra = game.truncate(z, jax.random.fold_in(jax.random.key(seed), 0x7C), truncation)
    z = np.asarray(z)
  fn = jitted_generate(game)
  put = (lambda x: x) if dp is None else dp.replicate
  out = []
  for i in range(0, n, chunk):
    cond = None if labels is None else put(np.asarray(labels[i : i + chunk], np.int32))
    value = fn(state, put(z[i : i + chunk]), use_ema=use_ema, cond=cond, **extra)
    out.append(np.asarray(value if dp is None else dp.fetch(value)))
  return np.concatenate(out)


def balanced_labels(config, n: int) -> np.ndarray | None:
  """Class ids `0, 1, ..., K-1, 0, ...` (`n` of them) for a class-conditional run, else None."""
  k = config.model.get('num_classes', 0)
  return np.arange(n, dtype=np.int32) % k if k else None


def format_sweep(rows: list[dict], settings: dict) -> str:
  """A table of a truncation sweep: one row per value, one column per metric, then the settings."""
  names = list(rows[0]['metrics'])
  lines = ['  '.join(['truncation', *(f'{n:>10}' for n in names)])]
  for row in rows:
    cells = (f'{row["metrics"][n]:>10.4g}' for n in names)
    lines.append('  '.join([f'{row["truncation"]:>10g}', *cells]))
  where = ', '.join(f'{k}: {v}' for k, v in settings.items() if k != 'metrics' and v is not None)
  return '\n'.join([*lines, f'({where})'])


def format_table(values: dict[str, float], settings: dict) -> str:
  width = max(len(k) for k in values) if values else 0
  lines = [f'{k:<{width}}  {v:.6g}' for k, v in values.items()]
  where = ', '.join(f'{k}: {v}' for k, v in settings.items() if k != 'metrics' and v is not None)
  return '\n'.join([*lines, f'({where})'])
