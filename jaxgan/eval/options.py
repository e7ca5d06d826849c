"""What one evaluation computes and against what: `Options`, the single source of its defaults.

The training-time sections (`config.evals.<name>`, built by `quality_config`),
the offline evaluation (`offline.evaluate_workdir`) and the evaluate CLI's
flags all take their defaults from `Options`.
"""

import dataclasses

import ml_collections

from jaxgan.errors import ConfigError

METRICS = (
  'fid',
  'kid',
  'is',
  'pr',
  'dc',
  'memorisation',
  'class_coverage',
  'class_accuracy',
  'intra_fid',
  'cas',
  'modes',
)
CONDITIONAL_METRICS = ('intra_fid', 'cas')  # of class-conditional generators (`conditional`)
FEATURES = ('inception', 'classifier', 'raw')


def parse_metrics(text: str | tuple) -> tuple[str, ...]:
  """`'fid,kid'` or `('fid', 'kid')` -> the metric names; raises ConfigError listing the known."""
  names = tuple(m.strip() for m in (text.split(',') if isinstance(text, str) else text))
  names = tuple(m for m in names if m)
  unknown = [m for m in names if m not in METRICS]
  if unknown or not names:
    raise ConfigError(f'unknown metrics {unknown or names}; known: {", ".join(METRICS)}')
  return names


_NOT_IN_CONFIG = {'in_config': False}  # set by the caller, not a `config.evals.<name>` key


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
  cas_steps: int = 0  # training steps of the cas classifier (0: the classifier's own schedule)
  batch_size: int = 50
  seed: int = dataclasses.field(default=0, metadata=_NOT_IN_CONFIG)
  progress: bool = dataclasses.field(default=True, metadata=_NOT_IN_CONFIG)

  @classmethod
  def from_config(cls, section: ml_collections.ConfigDict) -> 'Options':
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in section.items() if k in known}
    if 'metrics' in values:
      values['metrics'] = parse_metrics(values['metrics'])
    return cls(**values)


def quality_config(**overrides) -> ml_collections.ConfigDict:
  """A `config.evals.<name>` section of type 'quality' (see `Options` for the keys).

  >>> quality_config(metrics='fid,kid', n=2000).n
  2000
  """
  defaults = Options()
  section = ml_collections.ConfigDict({'type': 'quality', 'every': 0})
  for field in dataclasses.fields(Options):
    if field.metadata.get('in_config', True):
      value = getattr(defaults, field.name)
      section[field.name] = ','.join(value) if field.name == 'metrics' else value
  section.update(overrides)
  return section


def is_2d(config) -> bool:
  """Whether a run's data are 2-D points (a Gaussian mixture), not images."""
  return config.data.source == 'toy2d'


def feature_kind(options: Options, config) -> str:
  """The features an evaluation of `config`'s data uses; raises ConfigError for a misfit."""
  kind = options.features or ('raw' if is_2d(config) else 'inception')
  if kind not in FEATURES:
    raise ConfigError(f'unknown features {kind!r}; known: {", ".join(FEATURES)}')
  if is_2d(config) != (kind == 'raw'):
    raise ConfigError(
      f'features {kind!r} do not fit {"2-D points" if is_2d(config) else "images"}: use '
      f'{"raw" if is_2d(config) else "inception or classifier"}'
    )
  return kind


def check_metrics(options: Options, kind: str, num_classes: int | None = None) -> None:
  """Refuses metrics the features cannot give (class metrics need the classifier's labels).

  `num_classes`: the generator's classes (`config.model.num_classes`, 0 for an
  unconditional G); None skips the checks of the conditional metrics.
  """
  for name in ('class_coverage', 'class_accuracy'):
    if name in options.metrics and kind != 'classifier':
      raise ConfigError(f"metric {name} needs classifier labels: use features='classifier'")
  if 'modes' in options.metrics and kind != 'raw':
    raise ConfigError('metric modes is for 2-D mixtures (raw features)')
  asked = [m for m in CONDITIONAL_METRICS if m in options.metrics]
  if asked and num_classes is not None:
    if not num_classes:
      raise ConfigError(
        f'metric {asked[0]} is for class-conditional generators (config.model.num_classes > 0)'
      )
    if 'intra_fid' in asked and options.n < 2 * num_classes:
      raise ConfigError(
        f'metric intra_fid needs at least 2 samples per class: --n >= {2 * num_classes}, '
        f'got {options.n}'
      )
