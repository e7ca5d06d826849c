"""Reads the arrays of a PyTorch file (TorchScript or `torch.save`) without PyTorch.

Both formats are zip archives: `<root>/data.pkl` pickles the object tree, whose
tensors refer by key to raw little-endian storages in `<root>/data/<key>`.
"""

import pickle
import zipfile
from typing import Any

import numpy as np

_DTYPES = {
  'FloatStorage': np.float32,
  'DoubleStorage': np.float64,
  'HalfStorage': np.float16,
  'LongStorage': np.int64,
  'IntStorage': np.int32,
  'ByteStorage': np.uint8,
  'BoolStorage': np.bool_,
}


class _StateDict(dict):
  """`state_dict()`'s OrderedDict; its `_metadata` attribute (versions) is dropped."""

  def __setstate__(self, state):
    del state


class _Module(dict):
  """A scripted module's attributes (its `__dict__`), as a dict."""

  def __setstate__(self, state):
    self.update(state)


def _rebuild_tensor(storage, offset, shape, stride, *unused):
  del unused
  data, itemsize = storage
  if not shape:
    return np.array(data[offset])
  view = np.lib.stride_tricks.as_strided(
    data[offset:], shape=tuple(shape), strides=tuple(s * itemsize for s in stride)
  )
  return np.ascontiguousarray(view)


class _Unpickler(pickle.Unpickler):
  def __init__(self, file, archive: zipfile.ZipFile, root: str):
    super().__init__(file)
    self._archive, self._root = archive, root

  def find_class(self, module, name):
    if module == 'torch._utils' and name == '_rebuild_tensor_v2':
      return _rebuild_tensor
    if module == 'torch' and name in _DTYPES:
      return name
    if module == 'torch.jit._pickle' and name.startswith('build_'):  # build_intlist, ...
      return lambda values: values
    if module == 'collections' and name == 'OrderedDict':
      return _StateDict
    if module.startswith('__torch__'):
      return _Module
    raise pickle.UnpicklingError(f'unexpected object {module}.{name} in a weights file')

  def persistent_load(self, pid):
    kind, dtype_name, key, _, numel = pid
    if kind != 'storage':
      raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
    dtype = np.dtype(_DTYPES[dtype_name]).newbyteorder('<')
    raw = self._archive.read(f'{self._root}/data/{key}')
    return np.frombuffer(raw, dtype=dtype, count=numel), dtype.itemsize


def load(path: str) -> Any:
  """The pickled object tree of `path`: modules as dicts, tensors as numpy arrays."""
  with zipfile.ZipFile(path) as archive:
    (pkl,) = [n for n in archive.namelist() if n.endswith('/data.pkl')]
    root = pkl[: -len('/data.pkl')]
    with archive.open(pkl) as f:
      return _Unpickler(f, archive, root).load()
