"""Evaluators: what the trainer runs on a schedule to see how training goes.

An evaluator owns its schedule (`every`, in steps) and its output names; the
loop only calls it and logs what it returns (as `eval/<name>` scalars; the
values of the final call go to `results.json`). Images go through `Outputs`,
which writes `samples/<name>.png` on process 0 and the same image to
TensorBoard. Games build their evaluators (`Game.create_evaluators`).
"""

import os

import numpy as np

from jaxgan import images, writers


class Outputs:
  """Where evaluators write: PNGs under `workdir/samples` and the metric writer."""

  def __init__(self, workdir: str, writer, dp, *, is_main: bool = True):
    self.sample_dir = os.path.join(workdir, 'samples')
    self.writer, self.dp, self.is_main = writer, dp, is_main
    self.written: list[str] = []

  def image(self, name: str, image: np.ndarray, step: int, *, tag: str = 'samples') -> str:
    """Writes a uint8 `[H, W, C]` image as `samples/<name>.png` and to TensorBoard."""
    path = os.path.join(self.sample_dir, f'{name}.png')
    if self.is_main:
      with writers.output_errors(path):
        images.save_png(image, path)
    self.writer.image(step, tag, image)
    self.written.append(path)
    return path


class Evaluator:
  """Base: called every `every` steps and once at the end (`final=True`).

  `every=0` runs only at the end. `__call__` returns scalar metrics (or `{}`).
  """

  every: int = 0

  def due(self, step: int) -> bool:
    return bool(self.every) and step % self.every == 0

  def check(self) -> None:
    """Fails now, in one line, on what the first call would need and lack (weights, a
    reference set); the trainer calls it before it takes the workdir."""

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    raise NotImplementedError


def grid_name(step: int, final: bool) -> str:
  """`final`, or `step_0001234`: sample grids of a run sort by step."""
  return 'final' if final else f'step_{step:07d}'


def centre_crop(x: np.ndarray, size: int) -> np.ndarray:
  """The centre `size x size` of `[N, H, W, C]` images."""
  top, left = (x.shape[1] - size) // 2, (x.shape[2] - size) // 2
  return x[:, top : top + size, left : left + size]
