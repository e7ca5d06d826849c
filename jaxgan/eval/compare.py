"""FID (and KID, precision/recall, density/coverage) between two sets, or one set's statistics.

`fid(a, b)` is the work of `python -m jaxgan.fid A B`: it opens both sets
(`sets.open_set`), refuses statistics computed under other conditions before
measuring anything (`stats.check_comparable`), measures the image sets with
one Inception extractor, and returns the metrics with every condition they
depend on. `fid(a, save_stats=...)` measures one set and saves its statistics.
A is the reference: precision is the fraction of B inside A's manifold.
"""

import jax
import numpy as np

from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import features, metrics, sets, stats

METRICS = ('fid', 'kid', 'pr', 'dc')
_NEED_FEATURES = {'kid': 2, 'pr': 4, 'dc': 6}  # metric -> the fewest images per set it takes
_SHOWN = ('network', 'weights', 'weights_sha256', 'resize')


def parse_metrics(text: str | tuple) -> tuple[str, ...]:
  """`'fid,kid'` or `('fid', 'kid')` -> names; a ConfigError lists the known ones."""
  names = tuple(m.strip() for m in (text.split(',') if isinstance(text, str) else text))
  names = tuple(m for m in names if m)
  unknown = [m for m in names if m not in METRICS]
  if unknown or not names:
    raise ConfigError(f'unknown metrics {unknown or list(names)}; known: {", ".join(METRICS)}')
  return names


def compute(names: tuple[str, ...], a: stats.SetStats, b: stats.SetStats) -> dict[str, float]:
  """The metrics `names` of A (the reference) and B."""
  if a.stats.mu.shape != b.stats.mu.shape:
    raise DataError(
      f'A has {a.stats.mu.shape[0]}-d statistics and B {b.stats.mu.shape[0]}-d: features of '
      'different networks or layers'
    )
  out = {}
  for name in names:
    if name == 'fid':
      out['fid'] = metrics.fid_from_stats(a.stats, b.stats)
      continue
    for label, side in (('A', a), ('B', b)):
      if side.features is None:
        raise DataError(
          f'metric {name} needs features; set {label} is a statistics file without them '
          '(save them with --save-features)'
        )
      if len(side.features) < _NEED_FEATURES[name]:
        raise DataError(
          f'metric {name} needs at least {_NEED_FEATURES[name]} images per set; {label} has '
          f'{len(side.features)}'
        )
    if name == 'kid':
      out['kid'], out['kid_std'] = metrics.kid(a.features, b.features)
    elif name == 'pr':
      out.update(metrics.precision_recall(a.features, b.features, k=3))
    elif name == 'dc':
      out.update(metrics.density_coverage(a.features, b.features, k=5))
  return out


def fid(
  a,
  b=None,
  *,
  metrics: str | tuple = 'fid',
  resize: str = '',
  n: int = 0,
  batch_size: int = 50,
  inception_weights: str = '',
  save_stats: str = '',
  save_features: bool = False,
  seed: int = 0,
  progress: bool = True,
  num_devices: int = 0,
) -> dict:
  """FID and the other `metrics` between sets `a` (the reference) and `b`; or, with `b` None,
  `a`'s statistics saved to `save_stats`.

  Args:
    a, b: each an image folder, a `.npz` of statistics (pytorch-fid's, clean-fid's, jaxgan's)
      or features, `tfds:NAME[/SPLIT]`, a jaxgan workdir, or a uint8 array `[N, H, W, C]`.
    metrics: of 'fid', 'kid', 'pr' (precision/recall, k=3), 'dc' (density/coverage, k=5),
      comma-separated or a tuple.
    resize: 'legacy' or 'clean'; '' takes a statistics file's, else 'legacy'.
    n: at most this many images of a folder or TFDS split (drawn with `seed`; 0: all); a
      workdir's sample count (0: the other set's count, else `sets.DEFAULT_SAMPLES`).
    batch_size: images per compiled call, rounded up to a multiple of the local devices.
    inception_weights: the weights file (see `inception.weights_path`).
    save_stats: write A's statistics here (`stats.save`); `save_features`: with its features.
    seed: draws the subsets of `n` and a workdir's latents.
    num_devices: how many of each process's devices to use (0: all).

  Returns:
    `{'metrics': {name: value}, 'settings': {conditions}, 'sets': [{per set}], 'saved': path}`
    ('metrics' empty with one set; 'saved' only with `save_stats`).

  Raises:
    JaxganError: one-line errors: a missing or empty folder, an unreadable image (named),
      statistics of another network or resize, a metric that needs features a file lacks.
  """
  names = parse_metrics(metrics)
  if b is None and not save_stats:
    raise ConfigError('one set: give a second set to compare with, or --save-stats=OUT.npz')
  if resize and resize not in features.RESIZE_MODES:
    raise ConfigError(f'unknown resize mode {resize!r}; known: {", ".join(features.RESIZE_MODES)}')
  specs = {'A': a} if b is None else {'A': a, 'B': b}
  # A workdir draws as many samples as the other set has: open it last.
  opened = {k: sets.open_set(s, n=n, seed=seed) for k, s in specs.items() if not sets.is_workdir(s)}
  counts = [_count(s) for s in opened.values() if _count(s)]
  for label, spec in specs.items():
    if label not in opened:
      opened[label] = sets.open_set(spec, n=n or (counts[0] if counts else 0), seed=seed)
  opened = {k: opened[k] for k in specs}
  files = {k: s for k, s in opened.items() if isinstance(s, stats.SetStats)}
  named = [s.conditions.get('resize') for s in files.values() if s.conditions.get('resize')]
  resize = resize or (named[0] if named else 'legacy')

  extractor, computed = None, {}
  if len(files) < len(opened):
    extractor = sets.Inception(
      inception_weights, resize=resize, batch_size=batch_size, progress=False,
      num_devices=num_devices,
    )  # fmt: skip
    computed = sets.conditions(extractor)
  conditions = {
    k: s.conditions if k in files else {**computed, 'n': s.size} for k, s in opened.items()
  }
  labels = {k: f'{k} ({_source(s)})' for k, s in opened.items()}
  if len(opened) == 2:  # refuse before the long part
    stats.check_comparable(conditions['A'], conditions['B'], labels['A'], labels['B'])

  keep = bool(set(_NEED_FEATURES) & set(names)) or save_features
  measured = {
    k: s if k in files else sets.measure(s, extractor, keep_features=keep, progress=progress)
    for k, s in opened.items()
  }
  result = {
    'metrics': compute(names, measured['A'], measured['B']) if b is not None else {},
    'settings': {
      **{k: _first_known(conditions, k) for k in _SHOWN},
      'batch_size': extractor.batch_size if extractor else None,
      'devices_per_process': len(extractor.mesh.devices.flat) if extractor else None,
      'processes': jax.process_count(),
    },
    'sets': [
      {'set': k, 'source': _source(s), 'kind': _kind(s), **measured[k].conditions}
      for k, s in opened.items()
    ],
  }
  if save_stats:
    if jax.process_index() == 0:
      stats.save(save_stats, measured['A'], features=save_features)
    result['saved'] = save_stats
  return result


def _count(s) -> int | None:
  return s.n if isinstance(s, stats.SetStats) else s.size


def _source(s) -> str:
  return s.description if isinstance(s, sets.ImageSet) else s.source


def _kind(s) -> str:
  return s.kind if isinstance(s, sets.ImageSet) else 'stats'


def _first_known(conditions: dict, key: str):
  return next((c[key] for c in conditions.values() if c.get(key) is not None), None)


def format_table(result: dict) -> str:
  """The metrics, then one line per set with its count and conditions ('unknown' where a file
  does not say)."""
  values = result['metrics']
  width = max((len(k) for k in values), default=0)
  lines = [f'{k:<{width}}  {v:.6g}' for k, v in values.items()]
  rows = [('set', 'images', 'resize', 'network', 'weights (sha256)', 'source')]
  for s in result['sets']:
    unknown = lambda v: 'unknown' if v is None else str(v)
    weights = 'unknown'
    if s.get('weights_sha256'):
      weights = f'{s.get("weights") or "?"} ({s["weights_sha256"][:12]})'
    rows.append(
      (s['set'], unknown(s.get('n')), unknown(s.get('resize')), unknown(s.get('network')),
       weights, s['source'])
    )  # fmt: skip
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
  for r in rows:
    lines.append('  '.join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + '  ' + r[-1])
  return '\n'.join(lines)


def as_json_ready(result):
  """`result` with NumPy scalars as Python numbers (for `json.dumps`)."""
  if isinstance(result, dict):
    return {k: as_json_ready(v) for k, v in result.items()}
  if isinstance(result, list | tuple):
    return [as_json_ready(v) for v in result]
  return result.item() if isinstance(result, np.generic) else result
