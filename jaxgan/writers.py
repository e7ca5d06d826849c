"""Metric and image writers: TensorBoard event files (no TensorFlow needed) and JSON lines.

Writes are synchronous, in the caller's thread: a write that fails (a full
disk, a permission error) raises `OutputError` at once, naming the file,
instead of killing a background thread and leaving the trainer blocked on it.
"""

import contextlib
import json
import math
import os
import sys
import time

import numpy as np

from jaxgan.errors import OutputError


@contextlib.contextmanager
def _without_torch():
  """Hides an installed but not yet imported torch: tensorboardX imports it only to accept
  torch tensors (1.1 s of every start on the 2-core CPU); jaxgan writes numpy arrays."""
  hide = 'torch' not in sys.modules
  if hide:
    sys.modules['torch'] = None  # `import torch` raises ImportError, which tensorboardX expects
  try:
    yield
  finally:
    if hide and sys.modules.get('torch', 0) is None:
      del sys.modules['torch']


with _without_torch():
  from tensorboardX import summary as tb_summary
  from tensorboardX.event_file_writer import EventsWriter
  from tensorboardX.proto import event_pb2


@contextlib.contextmanager
def output_errors(path: str):
  """OSError while writing `path` -> one-line OutputError."""
  try:
    yield
  except OSError as e:
    raise OutputError(
      f'cannot write {path}: {e.strerror or e} (free disk space or fix the permissions, '
      'then run the same command to resume)'
    ) from e


def json_safe(values: dict) -> dict:
  """`values` with every non-finite float as None and a `<key>_undefined` note beside it.

  Strict JSON readers (jq, browsers) reject `NaN` and `Infinity`.

  >>> json_safe({'kl': float('inf'), 'modes': 3.0})
  {'kl': None, 'kl_undefined': 'inf', 'modes': 3.0}
  """
  out = {}
  for key, value in values.items():
    if isinstance(value, dict):
      out[key] = json_safe(value)
    elif isinstance(value, float) and not math.isfinite(value):
      out[key], out[f'{key}_undefined'] = None, repr(value)
    else:
      out[key] = value
  return out


class MetricWriter:
  """Writes scalars to `workdir/tb` and `workdir/metrics.jsonl`, images to TensorBoard.

  On processes other than 0 every call does nothing. The files are opened at the
  first write, so a run refused before it writes anything leaves no trace.
  """

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.enabled = enabled
    self.tb_dir = os.path.join(workdir, 'tb')
    self.jsonl_path = os.path.join(workdir, 'metrics.jsonl')
    self._tb = self._jsonl = None

  def _open(self) -> None:
    if self._tb is None:
      with output_errors(self.tb_dir):
        os.makedirs(self.tb_dir, exist_ok=True)
        self._tb = EventsWriter(os.path.join(self.tb_dir, 'events'))
      with output_errors(self.jsonl_path):
        self._jsonl = open(self.jsonl_path, 'a')  # noqa: SIM115

  def _write(self, step: int, summary) -> None:
    self._open()
    with output_errors(self.tb_dir):
      self._tb.write_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if not self.enabled:
      return
    for name, value in values.items():
      self._write(step, tb_summary.scalar(name, float(value)))
    line = json.dumps(json_safe({'step': step, **{k: float(v) for k, v in values.items()}}))
    with output_errors(self.jsonl_path):
      self._jsonl.write(line + '\n')
      self._jsonl.flush()
    with output_errors(self.tb_dir):
      self._tb.flush()

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    if self.enabled:
      self._write(step, tb_summary.image(name, image, dataformats='HWC'))
      with output_errors(self.tb_dir):
        self._tb.flush()

  def flush(self) -> None:
    if self.enabled and self._tb is not None:
      with output_errors(self.tb_dir):
        self._tb.flush()
      with output_errors(self.jsonl_path):
        self._jsonl.flush()

  def close(self) -> None:
    if self.enabled and self._tb is not None:
      with contextlib.suppress(OSError):  # already reported by the write that failed
        self._tb.close()
      with contextlib.suppress(OSError):
        self._jsonl.close()
