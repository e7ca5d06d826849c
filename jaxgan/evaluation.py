"""How good is a generator: samples, a reference set, features, the metrics, memorisation.

One path for the CLI (`python -m jaxgan.experiments.evaluate`) and for
training (`config.evals`, the `Quality` evaluator): draw `n` samples,
extract features of them and of a reference set (cached as `.npz` keyed by
the data, split, features, resize and count), compute the asked metrics
(`jaxgan.metrics`), and report each number with its conditions
(`settings`): features and weights, resize, sample and reference counts.

Metrics (`--metrics` / `config.evals.<name>.metrics`):
  fid, kid, is, pr (precision/recall, k=3), dc (density/coverage, k=5),
  memorisation (pixel and feature space), class_coverage (labels by a digit
  classifier), modes (2-D mixtures: PacGAN's modes, % high quality, reverse KL).
"""

import dataclasses
import functools
import hashlib
import json
import os
import re
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

from jaxgan import cache, classifier, evaluators, features, images, metrics
from jaxgan.data import pipeline, sources, toy2d
from jaxgan.errors import ConfigError, DataError

METRICS = (
  'fid',
  'kid',
  'is',
  'pr',
  'dc',
  'memorisation',
  'class_coverage',
  'class_accuracy',
  'modes',
)
FEATURES = ('inception', 'classifier', 'raw')


def parse_metrics(text: str | tuple) -> tuple[str, ...]:
  names = tuple(m.strip() for m in (text.split(',') if isinstance(text, str) else text))
  names = tuple(m for m in names if m)
  unknown = [m for m in names if m not in METRICS]
  if unknown or not names:
    raise ConfigError(f'unknown metrics {unknown or names}; known: {", ".join(METRICS)}')
  return names


@dataclasses.dataclass
class Options:
  """What one evaluation computes and against what (the `config.evals.<name>` keys)."""

  metrics: tuple[str, ...] = ('fid',)
  n: int = 1000  # generated samples (and at most this many reference samples)
  ref: str = 'train'  # 'train' | tfds:NAME[/SPLIT] | an image folder | a stats/features .npz
  features: str = ''  # inception | classifier | raw ('' : raw for 2-D data, else inception)
  resize: str = 'legacy'  # Inception's resize: legacy | clean
  inception_weights: str = ''
  classifier: str = ''  # '' : the classifier of the run's data
  batch_size: int = 50
  seed: int = 0
  progress: bool = True

  @classmethod
  def from_config(cls, section: ml_collections.ConfigDict) -> 'Options':
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in section.items() if k in known}
    if 'metrics' in values:
      values['metrics'] = parse_metrics(values['metrics'])
    return cls(**values)


def quality_config(**overrides) -> ml_collections.ConfigDict:
  """A `config.evals.<name>` section of type 'quality' (see `Options` for the keys)."""
  section = ml_collections.ConfigDict(
    {
      'type': 'quality',
      'every': 0,
      'metrics': 'fid',
      'n': 1000,
      'ref': 'train',
      'features': '',
      'resize': 'legacy',
      'inception_weights': '',
      'classifier': '',
      'batch_size': 50,
    }
  )
  section.update(overrides)
  return section


def is_2d(config) -> bool:
  return config.data.source == 'toy2d'


def feature_kind(options: Options, config) -> str:
  kind = options.features or ('raw' if is_2d(config) else 'inception')
  if kind not in FEATURES:
    raise ConfigError(f'unknown features {kind!r}; known: {", ".join(FEATURES)}')
  if is_2d(config) != (kind == 'raw'):
    raise ConfigError(
      f'features {kind!r} do not fit {"2-D points" if is_2d(config) else "images"}: use '
      f'{"raw" if is_2d(config) else "inception or classifier"}'
    )
  return kind


def make_extractor(kind: str, options: Options, config) -> features.Extractor:
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
    path = config.data.get('path', '') if config.data.source == 'mnist5k' else ''
    return features.Classifier(name, path=path)
  return features.Raw()


def check_metrics(options: Options, kind: str) -> None:
  for name in ('class_coverage', 'class_accuracy'):
    if name in options.metrics and kind != 'classifier':
      raise ConfigError(f"metric {name} needs classifier labels: use features='classifier'")
  if 'modes' in options.metrics and kind != 'raw':
    raise ConfigError('metric modes is for 2-D mixtures (raw features)')


# ----- samples and reference sets ------------------------------------------------------------


def to_model_inputs(x: np.ndarray, kind: str) -> np.ndarray:
  """Generator outputs ([-1, 1] images or 2-D points) -> what the extractor takes."""
  return np.asarray(x, np.float32) if kind == 'raw' else images.to_uint8(x)


class Reference:
  """A reference set: its (uint8) images or points where known, and its cached features."""

  def __init__(self, key: str, description: str, data: np.ndarray | None, n: int):
    self.key, self.description, self.data, self.n = key, description, data, n


def _source_key(data: ml_collections.ConfigDict) -> str:
  parts = [data.source]
  for k in ('name', 'split', 'path', 'size', 'channels'):
    if data.get(k, '') not in ('', None):
      parts.append(str(data[k]))
  if data.get('path') and os.path.isdir(data.path):
    files = sources.list_images(data.path)
    newest = max((os.path.getmtime(f) for f in files), default=0)
    parts.append(f'{len(files)}files-{int(newest)}')
  return '-'.join(parts)


def reference(spec: str, config, n: int, seed: int = 0) -> Reference:
  """The reference set named by `spec` (see `Options.ref`), at most `n` samples."""
  data = config.data
  if spec.endswith('.npz'):
    if not os.path.isfile(spec):
      raise DataError(f'no reference statistics file {spec!r}')
    return Reference(f'file-{os.path.abspath(spec)}', spec, None, 0)
  if is_2d(config):
    if spec != 'train':
      raise ConfigError(f"a 2-D run's reference is its mixture: --ref=train; got {spec!r}")
    points = toy2d.sample(toy2d.get_mixture(data.name), np.random.default_rng([seed, 1]), n)
    return Reference(f'toy2d-{data.name}-seed{seed}', f'{data.name} mixture', points, n)
  if spec == 'train':
    section = data
  elif spec.startswith('tfds:'):
    name, _, split = spec[len('tfds:') :].partition('/')
    section = ml_collections.ConfigDict(data.to_dict())
    section.source, section.name, section.split = 'tfds', name, split or 'test'
  elif os.path.isdir(spec):
    section = ml_collections.ConfigDict(data.to_dict())
    section.source, section.path = 'folder', spec
  else:
    raise ConfigError(
      f'unknown --ref {spec!r}: use train, tfds:NAME[/SPLIT], an image folder or a .npz file'
    )
  if section.source not in pipeline.RECORD_SOURCES:
    raise ConfigError(f'no reference images for config.data.source={section.source!r}')
  source = pipeline.RECORD_SOURCES[section.source](section)
  take = min(n, len(source))
  order = np.sort(np.random.default_rng(seed).permutation(len(source))[:take])
  pixels = images.to_uint8(source.take(order)['image'])
  return Reference(f'{_source_key(section)}-n{take}-seed{seed}', source.description, pixels, take)


def _safe(key: str) -> str:
  clean = re.sub(r'[^A-Za-z0-9._-]+', '_', key)
  if len(clean) > 120:
    clean = clean[:80] + '-' + hashlib.sha256(key.encode()).hexdigest()[:16]
  return clean


def reference_features(
  ref: Reference, extractor: features.Extractor, kind: str, options: Options
) -> dict:
  """Features of the reference set, cached in `<cache>/reference/` by data, features, resize, n."""
  if ref.data is None:  # a user's .npz: pytorch-fid / clean-fid statistics (mu, sigma) or features
    with np.load(ref.description) as f:
      out = {k: f[k] for k in f.files}
    if 'features' not in out and not {'mu', 'sigma'} <= set(out):
      raise DataError(f'{ref.description} holds neither features nor mu/sigma statistics')
    return out
  described = extractor.describe()
  tag = described.get('weights_sha256', '')[:12] or described['features']
  if kind == 'inception':
    tag += f'-{options.resize}' + ('-logits' if extractor.logits else '')
  elif kind == 'classifier':
    tag = f'{extractor.classifier}-{classifier_hash(extractor)}'
  key = _safe(f'{ref.key}-{kind}-{tag}')
  path = os.path.join(cache.directory('reference'), f'{key}.npz')
  if kind != 'raw' and os.path.exists(path):
    try:
      with np.load(path) as f:
        return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
      logging.warning('Reference cache %s unreadable (%s); computing it again.', path, e)
  out = extractor(ref.data, desc='reference')
  if kind != 'raw':

    def write(tmp):
      with open(tmp, 'wb') as f:
        np.savez(f, **out)

    cache.write_atomically(path, write)
  return out


def classifier_hash(extractor: features.Classifier) -> str:
  leaves = jax.tree.leaves(extractor.params)
  digest = hashlib.sha256()
  for leaf in leaves:
    digest.update(np.asarray(leaf).tobytes())
  return digest.hexdigest()[:12]


# ----- metrics ---------------------------------------------------------------------------------


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
) -> dict[str, float]:
  """The metrics `names` from reference (`real`) and sample (`fake`) features."""
  out: dict[str, float] = {}
  needs_features = {'kid', 'pr', 'dc', 'memorisation'} & set(names)
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


# ----- one evaluation ---------------------------------------------------------------------------


class Evaluation:
  """The reusable part of an evaluation: extractor and reference features, built once."""

  def __init__(self, options: Options, config):
    self.options, self.config = options, config
    self.kind = feature_kind(options, config)
    check_metrics(options, self.kind)
    self.extractor = make_extractor(self.kind, options, config)
    self.ref = reference(options.ref, config, options.n, options.seed)
    self.real = reference_features(self.ref, self.extractor, self.kind, options)
    self.mixture = toy2d.get_mixture(config.data.name) if is_2d(config) else None

  def settings(self) -> dict[str, Any]:
    return {
      **self.extractor.describe(),
      'samples': self.options.n,
      'reference': self.ref.description if self.ref.data is not None else self.options.ref,
      'reference_samples': self.ref.n or int(self.real.get('n', 0) or 0) or None,
      'metrics': list(self.options.metrics),
    }

  def __call__(
    self, samples: np.ndarray, asked: np.ndarray | None = None
  ) -> tuple[dict[str, float], dict]:
    """Metrics of generator outputs `samples` ([-1, 1] images or 2-D points).

    `asked`: the class each sample of a class-conditional G was asked for.
    """
    data = to_model_inputs(samples, self.kind)
    fake = self.extractor(data, desc='samples')
    values = compute(
      self.options.metrics,
      self.real,
      fake,
      fake_data=data,
      real_data=self.ref.data,
      mixture=self.mixture,
      asked=asked,
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
):
  """`n` generator outputs for latents drawn from `seed`, in chunks (of class `labels[i]`
  for a class-conditional G)."""
  z = np.asarray(jax.random.normal(jax.random.key(seed), (n, *state.latent_shape)))
  fn = jitted_generate(game)
  put = (lambda x: x) if dp is None else dp.replicate
  out = []
  for i in range(0, n, chunk):
    cond = None if labels is None else put(np.asarray(labels[i : i + chunk], np.int32))
    value = fn(state, put(z[i : i + chunk]), use_ema=use_ema, cond=cond)
    out.append(np.asarray(value if dp is None else dp.fetch(value)))
  return np.concatenate(out)


def balanced_labels(config, n: int) -> np.ndarray | None:
  """Class ids `0, 1, ..., K-1, 0, ...` (`n` of them) for a class-conditional run, else None."""
  k = config.model.get('num_classes', 0)
  return np.arange(n, dtype=np.int32) % k if k else None


def format_table(values: dict[str, float], settings: dict) -> str:
  width = max(len(k) for k in values) if values else 0
  lines = [f'{k:<{width}}  {v:.6g}' for k, v in values.items()]
  where = ', '.join(f'{k}: {v}' for k, v in settings.items() if k != 'metrics' and v is not None)
  return '\n'.join([*lines, f'({where})'])


# ----- during training ---------------------------------------------------------------------------


class Quality(evaluators.Evaluator):
  """`config.evals.<name>` of type 'quality': the asked metrics of `n` samples, every `every` steps.

  Values are logged as `<name>_<metric>` (e.g. `classifier_fid`); the
  settings they were measured under go to `<workdir>/eval_settings.json`.
  The extractor and the reference features are built on the first call.
  """

  def __init__(self, name: str, section, config, outputs: evaluators.Outputs, game):
    self.name, self.every = name, section.get('every', 0)
    self.options = Options.from_config(section)
    self.options.progress = False
    self.options.seed = config.seed
    self.config, self.outputs, self.game = config, outputs, game
    check_metrics(self.options, feature_kind(self.options, config))  # before training starts
    self._evaluation: Evaluation | None = None
    self._last: tuple[int, dict] | None = None

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    if self._last is None or self._last[0] != step:  # the final call may follow one at `step`
      self._last = (step, self.measure(state))
    values = self._last[1]
    if final:
      logging.info(
        'Quality at step %d (%s):\n%s',
        step,
        self.name,
        format_table(values, self._evaluation.settings()),
      )
    else:
      logging.info(
        'step %d, %s: %s', step, self.name, ', '.join(f'{k} {v:.4g}' for k, v in values.items())
      )
    return {f'{self.name}_{k}': v for k, v in values.items()}

  def measure(self, state) -> dict[str, float]:
    if self._evaluation is None:
      self._evaluation = Evaluation(self.options, self.config)
      if self.outputs.is_main:
        path = os.path.join(os.path.dirname(self.outputs.sample_dir), 'eval_settings.json')
        existing = {}
        if os.path.exists(path):
          with open(path) as f:
            existing = json.load(f)
        existing[self.name] = self._evaluation.settings()
        with open(path, 'w') as f:
          json.dump(existing, f, indent=2)
    labels = balanced_labels(self.config, self.options.n)
    samples = generate(
      state,
      self.game,
      self.options.n,
      seed=self.config.seed + 0xE7A1,
      dp=self.outputs.dp,
      labels=labels,
    )
    return self._evaluation(samples, labels)[0]


class StackedModes(evaluators.Evaluator):
  """`config.evals.<name>` of type 'stacked_modes': Stacked MNIST's mode count (PacGAN Table 2).

  Each of `n` samples (26,000 by default, as PacGAN and VEEGAN) has its three
  channels labelled by the MNIST-5k digit classifier (`jaxgan.classifier`);
  the digit triple is its mode (of 1,000). Logged: `<name>_modes` (modes
  with at least one sample) and `<name>_kl` (KL of the mode histogram to
  uniform, nats).
  """

  def __init__(self, name: str, section, config, outputs: evaluators.Outputs, game):
    self.name, self.every = name, section.get('every', 0)
    self.n = section.get('n', 26_000)
    self.config, self.outputs, self.game = config, outputs, game
    if config.model.get('channels', 3) != 3:
      raise ConfigError(f'config.evals.{name}: stacked_modes needs 3-channel samples')
    self._extractor = None

  def labels(self, samples: np.ndarray) -> np.ndarray:
    """The mode (0..999) of each `[N, 28, 28, 3]` sample in [-1, 1]."""
    if self._extractor is None:
      self._extractor = features.Classifier('mnist5k', path=self.config.data.get('path', ''))
    data = images.to_uint8(samples)
    digits = [
      self._extractor(data[..., c : c + 1], desc='samples')['logits'].argmax(-1) for c in range(3)
    ]
    return 100 * digits[0] + 10 * digits[1] + digits[2]

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    del final
    samples = generate(state, self.game, self.n, seed=self.config.seed + 0x5AC, dp=self.outputs.dp)
    values = metrics.class_coverage(self.labels(samples), 1000)
    logging.info('step %d, %s: %d modes of 1000, KL %.3f', step, self.name, *values.values())
    return {f'{self.name}_modes': values['classes'], f'{self.name}_kl': values['class_kl']}


EVALUATORS = {'quality': Quality, 'stacked_modes': StackedModes}


def create_evaluators(config, outputs: evaluators.Outputs, game) -> list:
  """The evaluators of `config.evals` (name -> section with a `type` of EVALUATORS)."""
  out = []
  for name, section in (config.get('evals') or {}).items():
    kind = section.get('type', '')
    if kind not in EVALUATORS:
      raise ConfigError(
        f'config.evals.{name}.type={kind!r} is unknown; known: {", ".join(EVALUATORS)}'
      )
    out.append(EVALUATORS[kind](name, section, config, outputs, game))
  return out


# ----- a trained workdir ------------------------------------------------------------------------


def evaluate_workdir(
  workdir: str,
  *,
  metrics: str = 'fid',
  n: int = 1000,
  ref: str = 'train',
  features: str = '',
  resize: str = 'legacy',
  inception_weights: str = '',
  which: str = 'latest',
  seed_index: int = 0,
  seed: int = 0,
  use_ema: bool = True,
  batch_size: int = 50,
  output: str = '',
  progress: bool = True,
) -> dict:
  """Evaluates a checkpoint of `workdir`; writes `eval.json` (and a line to `eval_history.jsonl`).

  With `memorisation` on image data, also `eval/memorisation.png`: each
  sample beside its 3 nearest training images in pixels and in features.
  """
  from jaxgan import games, sample

  if n < 2:
    raise ConfigError(f'--n must be >= 2; got {n}')
  config, state = sample.load_state(workdir, which, seed_index)
  game = games.of(config)
  options = Options(
    metrics=parse_metrics(metrics),
    n=n,
    ref=ref,
    features=features,
    resize=resize,
    inception_weights=inception_weights,
    batch_size=batch_size,
    seed=seed,
    progress=progress,
  )
  evaluation = Evaluation(options, config)
  labels = balanced_labels(config, n)
  samples = generate(state, game, n, seed=seed, use_ema=use_ema, labels=labels)
  values, fake = evaluation(samples, labels)
  result = {
    'workdir': os.path.abspath(workdir),
    'checkpoint': which,
    'seed_index': seed_index,
    'step': int(state.step),
    'ema': bool(use_ema and state.ema is not None),
    'seed': seed,
    'metrics': values,
    'settings': evaluation.settings(),
  }
  out_dir = os.path.join(workdir, 'eval')
  if 'memorisation' in options.metrics and evaluation.ref.data is not None and not is_2d(config):
    grid = memorisation_grid(
      to_model_inputs(samples, evaluation.kind),
      fake['features'],
      evaluation.ref.data,
      evaluation.real['features'],
    )
    result['memorisation_grid'] = images.save_png(grid, os.path.join(out_dir, 'memorisation.png'))
  output = output or os.path.join(workdir, 'eval.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, 'w') as f:
    json.dump(result, f, indent=2)
  with open(os.path.join(workdir, 'eval_history.jsonl'), 'a') as f:
    f.write(json.dumps(result) + '\n')
  result['output'] = output
  return result
