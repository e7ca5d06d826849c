"""Orbax checkpoints of the `GANState`, with the experiment's config stored beside it."""

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxgan import configs
from jaxgan.errors import CheckpointError


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), 'checkpoints')


class Checkpointer:
  """Saves every N steps (keeping K), restores the newest, guards the workdir's experiment."""

  def __init__(self, workdir: str, *, keep: int = 3, create: bool = True):
    directory = checkpoint_dir(workdir)
    if not create and not os.path.isdir(directory):
      raise CheckpointError(
        f'no checkpoints in {workdir!r} (expected {directory}); train there '
        'first or pass the right --workdir'
      )
    options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=create, enable_async_checkpointing=True
    )
    self.manager = ocp.CheckpointManager(directory, options=options)
    self.directory = directory

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def stored_config(self, step: int | None = None) -> dict:
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    restored = self.manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    return restored['config']

  def check_same_experiment(self, config: dict) -> None:
    """Raises CheckpointError if the newest checkpoint belongs to a different experiment."""
    if self.latest_step() is None:
      return
    differences = configs.experiment_differences(self.stored_config(), config)
    if differences:
      stored = configs.flatten(self.stored_config())
      new = configs.flatten(config)
      shown = ', '.join(f'{k}: {stored.get(k)!r} -> {new.get(k)!r}' for k in differences[:4])
      raise CheckpointError(
        f'{self.directory} holds a different experiment ({shown}); use a new --workdir, or the '
        'stored config (only train.num_steps, logging and eval settings may change on resume)'
      )

  def restore(self, target: Any, step: int | None = None) -> Any:
    """Restores onto `target`'s structure, dtypes and shardings."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    restored = self.manager.restore(
      step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
    )
    return restored['state']

  def save(self, step: int, state: Any, config: dict) -> None:
    if step in self.manager.all_steps():
      return
    self.manager.save(
      step,
      args=ocp.args.Composite(state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config)),
    )

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
