"""Orbax checkpoints of the `GANState`, with the experiment's config stored beside it.

Saves are asynchronous; a save that fails in the background (a full disk, a
permission error, a quota) surfaces at the trainer's next `check()`, `save()`
or `close()` as a one-line `CheckpointError`, so the run stops instead of
training on without checkpoints. On resume, the newest checkpoint that cannot
be read is moved aside to `<workdir>/checkpoints_unreadable/` (never deleted)
and the next newest is used. Orbax's `*.orbax-checkpoint-tmp` directories (a
save that was killed) are never steps, and are cleared when a run starts.
"""

import contextlib
import json
import os
import shutil
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging

from jaxgan import schema, seeds
from jaxgan.errors import CheckpointError, ConfigError

FIX = 'free disk space or fix the permissions, then run the same command to resume'


def checkpoint_dir(workdir: str, name: str = 'checkpoints') -> str:
  return os.path.join(os.path.abspath(workdir), name)


def best_dir_name(metric: str) -> str:
  """Where the best checkpoint by `metric` is kept: one directory per metric."""
  return f'checkpoints_best_{metric}'


def _cause(e: BaseException) -> str:
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return f'{type(e).__name__}: {lines[-1] if lines else ""}'.rstrip(': ')


def check_same_experiment(config: dict, stored: dict, directory: str) -> None:
  """Raises CheckpointError if `stored` (a checkpoint's config) is a different experiment."""
  differences = schema.experiment_differences(stored, config)
  if differences:
    old, new = schema.flatten(stored), schema.flatten(config)
    shown = ', '.join(f'{k}: {old.get(k)!r} -> {new.get(k)!r}' for k in differences[:4])
    raise CheckpointError(
      f'{directory} holds a different experiment ({shown}); use a new --workdir, or the '
      'stored config (only train.num_steps, logging and eval settings may change on resume)'
    )


def peek_config(workdir: str, name: str = 'checkpoints') -> dict | None:
  """The config of the newest finished checkpoint in `workdir`, read without writing anything.

  For the checks before a run takes its workdir: no checkpoint manager is
  made, nothing is moved or cleaned. None where there is no checkpoint or its
  config does not read (the run's own restore then sets it aside, in one line).
  """
  directory = checkpoint_dir(workdir, name)
  try:
    steps = sorted((int(d) for d in os.listdir(directory) if d.isdigit()), reverse=True)
  except OSError:
    return None
  for step in steps:
    path = os.path.join(directory, str(step), 'config', 'metadata')
    try:
      with open(path) as f:
        return json.load(f)
    except (OSError, ValueError):
      continue
  return None


class Checkpointer:
  """Saves every N steps (keeping K), restores the newest readable one, guards the experiment."""

  def __init__(
    self, workdir: str, *, keep: int = 3, create: bool = True, name: str = 'checkpoints'
  ):
    directory = checkpoint_dir(workdir, name)
    if not create and not os.path.isdir(directory):
      raise CheckpointError(
        f'no checkpoints in {workdir!r} (expected {directory}); train there '
        'first or pass the right --workdir'
      )
    options = ocp.CheckpointManagerOptions(
      max_to_keep=keep,
      create=create,
      enable_async_checkpointing=True,
      # The step's directories are made in `save`, not by background threads: a directory
      # that cannot be made (a missing or replaced parent) then fails `save` at once. Made in
      # the background, the failure left Orbax's threads waiting for it for 20 minutes, and
      # the process could not exit (tests/test_faults.py).
      async_options=ocp.AsyncOptions(create_directories_asynchronously=False),
      cleanup_tmp_directories=create,
    )
    try:
      self.manager = ocp.CheckpointManager(directory, options=options)
    except OSError as e:
      raise CheckpointError(f'cannot use checkpoint directory {directory}: {_cause(e)}') from e
    self.directory = directory
    self.unreadable_dir = os.path.join(os.path.dirname(directory), 'checkpoints_unreadable')
    self._saving: int | None = None
    self.unreadable: list[int] = []  # steps set aside by this checkpointer, newest first

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def stored_config(self, step: int | None = None) -> dict:
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    restored = self.manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    return restored['config']

  def check_same_experiment(self, config: dict, stored: dict) -> None:
    """Raises CheckpointError if `stored` (a checkpoint's config) is a different experiment."""
    check_same_experiment(config, stored, self.directory)

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

  def newest_config(self) -> dict | None:
    """The config stored by the newest checkpoint whose config reads (unreadable ones set aside)."""
    for step in reversed(self.all_steps()):
      try:
        return self.stored_config(step)
      except Exception as e:  # noqa: BLE001 - any unreadable file: fall back, loudly
        self._set_aside(step, e)
    return None

  def restore_newest(self, target: Any, config: dict | None = None) -> tuple[Any, int] | None:
    """`(state, step)` of the newest readable checkpoint, or None when there is none.

    A checkpoint whose config or state cannot be read is reported in one line
    and moved aside; the one before it is tried next. With `config`, the
    checkpoint must hold the same experiment (CheckpointError otherwise).

    Raises:
      CheckpointError: different experiment, or checkpoints existed and none is readable.
    """
    while (stored := self.newest_config()) is not None:
      step = self.latest_step()
      if config is not None:
        self.check_same_experiment(config, stored)
      try:
        return self.restore(target, step), step
      except Exception as e:  # noqa: BLE001
        self._set_aside(step, e)
    if self.unreadable:
      raise CheckpointError(
        f'no readable checkpoint in {self.directory} (steps '
        f'{", ".join(map(str, self.unreadable))} moved to {self.unreadable_dir}); use a new '
        '--workdir or restore them from a backup'
      )
    return None

  def _set_aside(self, step: int, error: Exception) -> None:
    where = os.path.join(self.unreadable_dir, str(step))
    logging.warning(
      'Checkpoint step %d in %s is unreadable (%s); moved to %s, trying the one before.',
      step,
      self.directory,
      _cause(error),
      where,
    )
    if jax.process_index() == 0:
      os.makedirs(self.unreadable_dir, exist_ok=True)
      if os.path.exists(where):
        where = f'{where}.{len(os.listdir(self.unreadable_dir))}'
      shutil.move(os.path.join(self.directory, str(step)), where)
    self.manager.reload()
    self.unreadable.append(step)

  @contextlib.contextmanager
  def _saving_errors(self):
    """Any failure of a save, now or in the background, as one CheckpointError line."""
    try:
      yield
    except CheckpointError:
      raise
    except Exception as e:  # noqa: BLE001 - Orbax/tensorstore raise many types
      step = self._saving
      self._saving = None
      kept = ', '.join(map(str, [s for s in self.all_steps() if s != step])) or 'none'
      raise CheckpointError(
        f'saving checkpoint step {step} in {self.directory} failed ({_cause(e)}); '
        f'checkpoints kept: {kept}; {FIX}'
      ) from e

  def check(self) -> None:
    """Raises CheckpointError if a background save has failed (cheap: no waiting)."""
    with self._saving_errors():
      self.manager.check_for_errors()

  def save(self, step: int, state: Any, config: dict, *, best: dict | None = None) -> None:
    """Saves `state` and `config` at `step` (`best`: the metric it was kept for, a best save)."""
    if step in self.manager.all_steps():
      return
    items = {'state': ocp.args.StandardSave(state), 'config': ocp.args.JsonSave(config)}
    if best is not None:
      items['best'] = ocp.args.JsonSave(best)
    with self._saving_errors():
      self.manager.wait_until_finished()
      self.manager.check_for_errors()
      self._saving = step
      self.manager.save(step, args=ocp.args.Composite(**items))

  def stored_best(self) -> dict | None:
    """`{'metric', 'mode', 'value', 'step'}` of the newest best save, or None."""
    step = self.latest_step()
    if step is None:
      return None
    restored = self.manager.restore(step, args=ocp.args.Composite(best=ocp.args.JsonRestore()))
    return restored['best']

  def wait(self) -> None:
    with self._saving_errors():
      self.manager.wait_until_finished()
      self.manager.check_for_errors()

  def close(self) -> None:
    """Waits for the last save; raises CheckpointError if it failed."""
    try:
      self.wait()
    finally:
      self.manager.close()


# ----- reading a trained workdir ------------------------------------------------------------


def checkpoint_name(workdir: str, which: str = 'latest') -> str:
  """The checkpoint directory name of `which`: 'latest', 'best' (the one kept) or 'best:METRIC'."""
  if which == 'latest':
    return 'checkpoints'
  if which.startswith('best:'):
    return best_dir_name(which[len('best:') :])
  if which != 'best':
    raise ConfigError(f'unknown --checkpoint {which!r}; use latest, best or best:METRIC')
  prefix = best_dir_name('')
  kept = (
    sorted(d for d in os.listdir(workdir) if d.startswith(prefix)) if os.path.isdir(workdir) else []
  )
  if len(kept) != 1:
    found = ', '.join(kept) or 'none: the run set no config.train.best_metric'
    raise CheckpointError(
      f'{len(kept)} best checkpoints in {workdir} ({found}); name one: --checkpoint=best:METRIC'
    )
  return kept[0]


def load_state(workdir: str, which: str = 'latest', seed_index: int = 0):
  """(config, state) of the newest checkpoint in `workdir` (`which`: see `checkpoint_name`).

  A run of several seeds (`config.num_seeds > 1`) gives seed `seed_index`'s
  state and single-seed config (`seeds.seed_config`).
  """
  ckpt = Checkpointer(workdir, create=False, name=checkpoint_name(workdir, which))
  step = ckpt.latest_step()
  if step is None:
    raise CheckpointError(f'no checkpoint in {ckpt.directory}; train first')
  stored = ml_collections.ConfigDict(ckpt.stored_config(step))
  config = seeds.seed_config(stored, seed_index)  # checks the index before any restore
  state = ckpt.restore(seeds.game_of(stored).create_state(stored), step)
  ckpt.close()
  if stored.get('num_seeds', 1) > 1:
    state = seeds.select(state, seed_index)
  return config, state
