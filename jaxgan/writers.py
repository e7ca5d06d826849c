"""Metric and image writers: TensorBoard event files (no TensorFlow needed) and JSON lines."""

import json
import os

import numpy as np
from tensorboardX import SummaryWriter


class MetricWriter:
  """Writes scalars to `workdir/tb` and `workdir/metrics.jsonl`, images to TensorBoard.

  On processes other than 0 every call does nothing.
  """

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.enabled = enabled
    if enabled:
      os.makedirs(workdir, exist_ok=True)
      self._tb = SummaryWriter(os.path.join(workdir, 'tb'))
      self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')  # noqa: SIM115

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if not self.enabled:
      return
    for name, value in values.items():
      self._tb.add_scalar(name, value, step)
    self._jsonl.write(json.dumps({'step': step, **{k: float(v) for k, v in values.items()}}) + '\n')
    self._jsonl.flush()

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    if self.enabled:
      self._tb.add_image(name, image, step, dataformats='HWC')

  def flush(self) -> None:
    if self.enabled:
      self._tb.flush()
      self._jsonl.flush()

  def close(self) -> None:
    if self.enabled:
      self._tb.close()
      self._jsonl.close()
