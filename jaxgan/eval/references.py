"""Reference sets and their feature cache: what generated samples are compared with.

`reference(spec, config, n)` names the set (the run's training data, a TFDS
split, an image folder, or a user's `.npz` of statistics or features);
`reference_features` extracts its features once and caches them in
`<cache>/reference/`, keyed by the data, split, features, resize and count.
"""

import hashlib
import os
import re

import jax
import ml_collections
import numpy as np
from absl import logging

from jaxgan import cache, images
from jaxgan.data import pipeline, sources, toy2d
from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import features
from jaxgan.eval.options import Options, is_2d


def to_model_inputs(x: np.ndarray, kind: str) -> np.ndarray:
  """Generator outputs ([-1, 1] images or 2-D points) -> what the extractor takes."""
  return np.asarray(x, np.float32) if kind == 'raw' else images.to_uint8(x)


class Reference:
  """A reference set: its (uint8) images or points where known, and its cached features.

  `labels` (`[n]` int32): the class of each image where the source is labelled
  (digits, MNIST-5k, TFDS with a label, class folders), else None. Read with the
  images, not cached: the features' cache key is the same with or without them.
  """

  def __init__(
    self,
    key: str,
    description: str,
    data: np.ndarray | None,
    n: int,
    labels: np.ndarray | None = None,
  ):
    self.key, self.description, self.data, self.n = key, description, data, n
    self.labels = labels


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
  elif os.sep in spec or spec.startswith('.') or os.path.exists(spec):
    raise DataError(f'--ref {spec!r}: no such folder (give an image folder, a .npz or train)')
  else:
    raise ConfigError(
      f'unknown --ref {spec!r}: use train, tfds:NAME[/SPLIT], an image folder or a .npz file'
    )
  if section.source not in pipeline.RECORD_SOURCES:
    raise ConfigError(f'no reference images for config.data.source={section.source!r}')
  source = pipeline.RECORD_SOURCES[section.source](section)
  take = min(n, len(source))
  order = np.sort(np.random.default_rng(seed).permutation(len(source))[:take])
  records = source.take(order)
  pixels = images.to_uint8(records['image'])
  labels = np.asarray(records['label'], np.int32) if 'label' in records else None
  key = f'{_source_key(section)}-n{take}-seed{seed}'
  return Reference(key, source.description, pixels, take, labels)


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
