"""The training loop: `train_and_evaluate(config, workdir)` for every game.

The loop names no game: it asks the registry (`jaxgan/games/`) for the
config's game, builds its state, compiles its pure step once (`parallel.py`),
resumes from the newest checkpoint in `workdir`, and writes metrics
(TensorBoard + `metrics.jsonl`), sample grids (`samples/`) and checkpoints
(`checkpoints/`). Metrics stay on the device until a log step; the host
runs at most `DataParallel.max_steps_in_flight` steps, and about two seconds
of work, ahead (`_InFlight`).
"""

import contextlib
import functools
import json
import os
import signal
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from tqdm import auto as tqdm

from jaxgan import checkpoint, configs, games, parallel, runlock, schema, seeds, writers
from jaxgan import state as state_lib
from jaxgan.errors import ConfigError, NonFiniteError
from jaxgan.eval import base


def _all_finite(tree: Any) -> jax.Array:
  leaves = [
    jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)
  ]
  return jnp.all(jnp.stack(leaves))


class _StopRequest:
  """Turns a preemption notice (SIGTERM) or SIGINT into a stop the loop checks.

  On one process our own handler sets a flag (a second SIGINT kills). On several,
  `jax.distributed` owns SIGTERM: its preemption service spreads a notice received by
  any process to all of them and agrees on one step, at which every process saves
  the same checkpoint and exits 0 (`multihost_utils.reached_preemption_sync_point`,
  asked at every step).
  """

  def __init__(self):
    self.signal_name = None
    self._previous = {}
    self._multi_process = jax.process_count() > 1

  def _handle(self, signum, frame):
    del frame
    self.signal_name = signal.Signals(signum).name
    signal.signal(signal.SIGINT, signal.default_int_handler)

  def requested(self, step: int) -> bool:
    """Whether to save and stop after `step` (the same answer on every process)."""
    if self._multi_process and multihost_utils.reached_preemption_sync_point(step):
      self.signal_name = 'A preemption notice (SIGTERM to any process)'
    return self.signal_name is not None

  def __enter__(self):
    if not self._multi_process:
      for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not on the main thread
          self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _mean_metrics(pending: list[tuple[int, dict]], dp: parallel.DataParallel) -> dict[str, float]:
  """Averages fetched per-step metrics; raises NonFiniteError at the first bad step."""
  host = dp.fetch([m for _, m in pending], per_device=True)
  for (step, _), values in zip(pending, host, strict=True):
    bad = {k: float(v) for k, v in values.items() if not np.isfinite(v)}
    if bad:
      raise NonFiniteError(f'non-finite loss at step {step}: {bad}')
  return {k: float(np.mean([v[k] for v in host])) for k in host[0]}


def device_memory() -> int:
  """Bytes of memory of one local device: its allocator's limit, or the host's RAM on CPU."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if 'bytes_limit' in stats:
    return int(stats['bytes_limit'])
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def check_fits(game: games.Game, config: ml_collections.ConfigDict) -> None:
  """Refuses a config whose game state alone exceeds a device's memory, before it is allocated.

  The size comes from `jax.eval_shape` (nothing is allocated); the compiled
  step's own figure (`check_step_fits`) covers batches and activations.
  """
  shapes = jax.eval_shape(lambda: game.create_state(config))
  state = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
  memory = device_memory()
  if state > memory:
    raise ConfigError(
      f'the game state of this config takes {state / 2**30:.1f} GiB (parameters, optimizer '
      f'states, EMA); a device here has {memory / 2**30:.1f} GiB: lower config.model sizes'
    )


def check_step_fits(need: int, dp: parallel.DataParallel) -> None:
  """Refuses a step whose compiled memory (XLA's own figure) exceeds a device's, before it runs."""
  memory = device_memory()
  on_host = dp.devices[0].platform == 'cpu'
  total = need * (len(jax.local_devices()) if on_host else 1)  # CPU devices share the host RAM
  if total > memory:
    raise ConfigError(
      f'the compiled train step needs {total / 2**30:.1f} GiB (XLA memory analysis: batch, '
      f'state, activations); a device here has {memory / 2**30:.1f} GiB: lower '
      'config.train.batch_size or config.model sizes'
    )


def start_checks(config: ml_collections.ConfigDict) -> tuple[games.Game, parallel.DataParallel]:
  """The checks of a run's start, before any data is read or array allocated.

  Every value of the config in range (`configs.validate`), the batch divides
  over the devices, and the game state fits in a device's memory.

  Raises:
    ConfigError: saying what to change.
  """
  game = seeds.game_of(config)
  configs.validate(config)
  dp = parallel.DataParallel(config.parallel, config.num_devices)
  dp.check_batch_size(config.train.batch_size)
  check_fits(game, config)
  return game, dp


class _Best:
  """Keeps the checkpoint with the best value of `config.train.best_metric`, beside the latest.

  It lives in `checkpoints_best_<metric>/` (one save, with the metric, its
  value and step stored beside the state); a resumed run reads the best value
  so far from there, so a worse value after a restart never replaces it.
  """

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    self.metric = config.train.get('best_metric', '')
    self.mode = config.train.get('best_mode', 'min')
    self.ckpt, self.value = None, None
    if not self.metric:
      return
    self.ckpt = checkpoint.Checkpointer(workdir, keep=1, name=checkpoint.best_dir_name(self.metric))
    stored = self.ckpt.stored_best() if self.ckpt.latest_step() is not None else None
    if stored is not None:
      self.value = stored['value']
      logging.info('Best %s so far: %g at step %d.', self.metric, self.value, stored['step'])

  def better(self, value: float) -> bool:
    if not np.isfinite(value):
      return False
    if self.value is None:
      return True
    return value < self.value if self.mode == 'min' else value > self.value

  def offer(self, step: int, metrics: dict[str, float], state, config_dict: dict) -> None:
    """Saves `state` (logical, unplaced) if `metrics` holds a better value of the metric."""
    if self.ckpt is None or self.metric not in metrics:
      return
    value = float(metrics[self.metric])
    if not self.better(value):
      return
    self.value = value
    record = {'metric': self.metric, 'mode': self.mode, 'value': value, 'step': step}
    self.ckpt.save(step, state, config_dict, best=record)
    logging.info(
      'New best %s %g at step %d: saved in %s.', self.metric, value, step, self.ckpt.directory
    )

  def close(self) -> None:
    if self.ckpt is not None:
      self.ckpt.close()


class _NanPolicy:
  """`config.train.on_nan`: 'stop' ends the run at a NaN/inf; 'rollback' goes back to the last
  good checkpoint with both learning rates lowered, at most `max_rollbacks` times.

  It knows the last good checkpoint (a step saved with a finite state), so every
  non-finite error says where the run can resume from.
  """

  def __init__(self, ckpt: checkpoint.Checkpointer, last_good: int | None):
    self.ckpt, self.last_good = ckpt, last_good

  def loss_error(self, error: NonFiniteError) -> NonFiniteError:
    """A non-finite loss, with where to resume and what to change."""
    where = (
      f'step {self.last_good} in {self.ckpt.directory}' if self.last_good is not None else 'none'
    )
    return NonFiniteError(
      f'{error}; stopped. Last good checkpoint: {where}. Lower the learning '
      'rates or add a penalty (config.loss.r1_gamma) and resume.'
    )

  def state_error(self, step: int) -> NonFiniteError:
    return NonFiniteError(
      f'the state has non-finite values at step {step}; not saved. Last '
      f'good checkpoint: step {self.last_good} in {self.ckpt.directory}.'
    )

  def rolled_back(self, error: NonFiniteError, config: ml_collections.ConfigDict):
    """The config to go on with after `error`: `config` one rollback further.

    Raises:
      NonFiniteError: `error` itself, where the policy says stop.
    """
    train = config.train
    if (
      train.on_nan != 'rollback' or self.last_good is None or train.rollbacks >= train.max_rollbacks
    ):
      if train.rollbacks:
        raise NonFiniteError(f'{error} (after {train.rollbacks} rollback(s))') from None
      raise error
    lowered = schema.lowered(config)
    logging.warning(
      'Rollback %d of %d after "%s": restored step %d, learning rates now g %g, d %g.',
      lowered.train.rollbacks,
      lowered.train.max_rollbacks,
      str(error).split(';')[0],
      self.last_good,
      lowered.optimizer.g.learning_rate,
      lowered.optimizer.d.learning_rate,
    )
    return lowered


class _InFlight:
  """How many steps the loop dispatches before it waits for the newest one.

  As many as fill `target_s` seconds of work, at most `limit`
  (`DataParallel.max_steps_in_flight`), re-estimated at every wait. Python runs
  a signal handler only once a wait returns, so this bounds how long a SIGTERM
  (a preemption notice: often 30 s of grace) waits before its checkpoint is
  saved. With a fixed 20 steps in flight, a StyleGAN2 step of 4 s on a CPU
  made that over a minute.
  """

  def __init__(self, limit: int, target_s: float = 2.0, clock=time.perf_counter):
    self.limit, self.target_s, self.clock = limit, target_s, clock
    self.every, self.since, self.last = 1, 0, clock()

  def after_step(self, metrics) -> None:
    """Called after each dispatched step; waits for it once `every` are queued."""
    self.since += 1
    if self.since < self.every:
      return
    jax.block_until_ready(metrics)
    now = self.clock()
    per_step = max((now - self.last) / self.since, 1e-9)
    self.every = max(1, min(self.limit, int(self.target_s / per_step)))
    self.since, self.last = 0, now


class _MetricLog:
  """Step metrics kept on the device until a log step, then averaged, checked and written.

  Also the progress bar and the rates: steps/s, images/s and the fraction of
  the time spent waiting for input, measured from the first step after
  `restart` (the first step, with its compilation, is not a rate).
  """

  def __init__(self, config, game, dp, writer, nan: _NanPolicy, ckpt, *, start: int, is_main: bool):
    self.config, self.game, self.dp, self.writer = config, game, dp, writer
    self.nan, self.ckpt, self.is_main = nan, ckpt, is_main
    self.progress = tqdm.tqdm(
      total=config.train.num_steps,
      initial=start,
      disable=not (is_main and config.train.progress),
      dynamic_ncols=True,
      desc='train',
    )
    self.restart(start)

  def restart(self, step: int) -> None:
    """Drops pending metrics; rates count from `step`."""
    self.pending: list[tuple[int, dict]] = []
    self.last_time, self.last_step, self.input_wait = time.perf_counter(), step, 0.0
    self.progress.n = step
    self.progress.refresh()

  def add(self, step: int, metrics: dict, *, first: bool) -> None:
    self.pending.append((step, metrics))
    self.progress.update(1)
    if first:
      jax.block_until_ready(metrics)  # warm-up: the first step's time is not a rate
      logging.info('First step took %.1f s.', time.perf_counter() - self.last_time)
      self.last_time, self.last_step, self.pending = time.perf_counter(), step, []

  def flush(self, step: int) -> dict[str, float]:
    """Writes the mean of the pending metrics; raises NonFiniteError at a non-finite one."""
    if not self.pending:
      return {}
    try:
      values = _mean_metrics(self.pending, self.dp)
    except NonFiniteError as e:
      raise self.nan.loss_error(e) from None
    self.ckpt.check()  # a background save that failed stops the run here
    now = time.perf_counter()
    elapsed = now - self.last_time
    steps_per_s = (step - self.last_step) / elapsed
    values.update(
      steps_per_s=steps_per_s,
      img_per_s=steps_per_s * self.config.train.batch_size * self.config.get('num_seeds', 1),
      input_wait_fraction=self.input_wait / elapsed,
    )
    self.writer.scalars(step, values)
    shown = {k: values[k] for k in self.game.progress_metrics if k in values}
    self.progress.set_postfix(
      **{k: f'{v:.3f}' for k, v in shown.items()},
      img_s=f'{values["img_per_s"]:.0f}',
      refresh=False,
    )
    if self.progress.disable and self.is_main:
      logging.info(
        'step %d: %s, %.1f steps/s',
        step,
        ' '.join(f'{k} {v:.4f}' for k, v in shown.items()),
        steps_per_s,
      )
    self.pending, self.last_time, self.last_step, self.input_wait = [], now, step, 0.0
    return values


def _compile_step(game, dp: parallel.DataParallel, config, state, batches, start: int):
  """The game's step for `config` (`parallel.PhasedStep`: one per phase of a game with lazy
  regularisers), the first update's compiled now, ahead of the first batch, the others on
  first use; each one's memory checked."""

  def ready(step, state, batch):
    t0 = time.perf_counter()
    compiled, need = dp.compile_ahead(step, state, batch)
    check_step_fits(need, dp)
    logging.info('Compiled the train step in %.1f s.', time.perf_counter() - t0)
    return compiled

  steps = dp.compile_phased(game, config, ready)
  steps.get(start, state, dp.abstract_batch(batches.spec()))
  return steps


def _evaluate(evaluations, state, step: int, *, final: bool, dp, writer, best, config_dict):
  """Runs `evaluations` on the logical `state`; logs what they return; offers it to `best`."""
  metrics = {}
  for evaluation in evaluations:
    metrics.update(evaluation(dp.get_state(state), step, final=final))
  if metrics:
    writer.scalars(step, {f'eval/{k}': v for k, v in metrics.items()})
    best.offer(step, metrics, dp.get_state(state), config_dict)
  return metrics


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> state_lib.GANState:
  """Trains `config` in `workdir`, resuming from its newest checkpoint.

  Returns:
    The final state.

  Raises:
    ConfigError, DataError, CheckpointError: bad input, before any work is lost.
    NonFiniteError: a loss became NaN/inf; the last good checkpoint is kept.
  """
  # ----- checks, before anything is written to the workdir or started --------------------------
  parallel.initialize_distributed(config.distributed)
  game, dp = start_checks(config)
  workdir = os.path.abspath(workdir)
  is_main = jax.process_index() == 0
  stored = checkpoint.peek_config(workdir)  # read only: a workdir of another experiment is refused
  if stored is not None:
    resumed = schema.adopt_rollbacks(config, stored).to_dict()
    checkpoint.check_same_experiment(resumed, stored, checkpoint.checkpoint_dir(workdir))
  batches = game.create_batches(
    config, process_index=jax.process_index(), process_count=jax.process_count()
  )
  writer = writers.MetricWriter(workdir, enabled=is_main)  # opens its files at the first write
  outputs = base.Outputs(workdir, writer, dp, is_main=is_main)
  evaluations = game.create_evaluators(config, outputs)
  for evaluation in evaluations:
    evaluation.check()  # reference sets, weights: what the first evaluation would need

  # ----- one run per workdir: from here on the workdir is this run's ---------------------------
  with contextlib.ExitStack() as stack:
    if is_main:  # process 0 holds it for all
      stack.enter_context(runlock.RunLock(workdir))
    return _train(config, workdir, game, dp, batches, outputs, evaluations)


def _train(config, workdir: str, game, dp, batches, outputs, evaluations) -> state_lib.GANState:
  """The run, once its inputs are checked and the workdir is taken: `train_and_evaluate`'s work."""
  is_main, writer = outputs.is_main, outputs.writer
  ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints)
  stored = ckpt.newest_config()  # unreadable checkpoints are set aside here, in one line each
  if stored is not None:
    config = schema.adopt_rollbacks(config, stored)
    if config.train.rollbacks:
      logging.info(
        'This run rolled back %d time(s) after a NaN; continuing with its learning rates '
        '(g %g, d %g).',
        config.train.rollbacks,
        config.optimizer.g.learning_rate,
        config.optimizer.d.learning_rate,
      )
    ckpt.check_same_experiment(config.to_dict(), stored)
  config_dict = config.to_dict()

  # ----- the state: new, or the newest readable checkpoint on this run's placement -------------
  state = dp.put_state(game.create_state(config, axis_name=dp.axis_name))
  restored = ckpt.restore_newest(dp.get_state(state), config_dict)
  if restored is not None:
    state = dp.put_state(restored[0])
  start = int(np.ravel(dp.fetch(state.step, per_device=True))[0])  # [num_seeds] if stacked
  if start:
    logging.info('Resumed from %s at step %d.', ckpt.directory, start)
  if is_main:
    path = os.path.join(workdir, 'config.json')
    with writers.output_errors(path), open(path, 'w') as f:
      json.dump(config_dict, f, indent=2)

  # ----- the best checkpoint, policies, the compiled step --------------------------------------
  best = _Best(config, workdir)
  evaluate = functools.partial(_evaluate, dp=dp, writer=writer, best=best)
  nan = _NanPolicy(ckpt, restored[1] if restored else None)
  log = _MetricLog(config, game, dp, writer, nan, ckpt, start=start, is_main=is_main)
  train_step = _compile_step(game, dp, config, state, batches, start)
  all_finite = jax.jit(_all_finite)
  num_steps = config.train.num_steps
  iterator = batches.iterate(start)
  in_flight = _InFlight(dp.max_steps_in_flight)

  def save(step: int) -> None:  # reads the current `state`; assigns nothing outside
    log.flush(step)
    if not bool(dp.fetch(all_finite(dp.get_state(state)))):
      raise nan.state_error(step)
    ckpt.save(step, dp.get_state(state), config_dict)
    nan.last_good = step

  # ----- the loop: steps start + 1 ... num_steps; a NaN may roll it back ------------------------
  with _StopRequest() as stop:
    try:
      step = start
      while step < num_steps:
        step += 1
        try:
          t0 = time.perf_counter()
          batch = dp.shard_batch(next(iterator))
          log.input_wait += time.perf_counter() - t0
          state, metrics = train_step(state, batch, step - 1)  # the state's step before it
          log.add(step, metrics, first=step == start + 1)
          if step % config.train.log_every == 0:
            log.flush(step)
          else:
            in_flight.after_step(metrics)
          due = [e for e in evaluations if e.due(step)]
          evaluate(due, state, step, final=False, config_dict=config_dict)
          if step % config.train.checkpoint_every == 0:
            save(step)
          if stop.requested(step):
            save(step)
            ckpt.close()  # the save is on disk before we say so
            logging.warning(
              '%s received: saved a checkpoint at step %d in %s; run the same command to resume.',
              stop.signal_name,
              step,
              ckpt.directory,
            )
            best.close()
            return dp.get_state(state)
        except NonFiniteError as e:  # 'rollback': the last good checkpoint, lower learning rates
          config = nan.rolled_back(e, config)
          config_dict = config.to_dict()
          iterator.close()
          ckpt.wait()
          target = dp.put_state(game.create_state(config, axis_name=dp.axis_name))
          state = dp.put_state(ckpt.restore(dp.get_state(target), nan.last_good))
          start = step = nan.last_good
          train_step = _compile_step(game, dp, config, state, batches, start)
          iterator = batches.iterate(start)
          log.restart(start)

      # ----- the end: the last checkpoint, the final evaluation, results.json ------------------
      if start < num_steps:
        save(num_steps)
      ckpt.close()  # raises CheckpointError if the last save failed
      outputs.written.clear()
      metrics = evaluate(evaluations, state, num_steps, final=True, config_dict=config_dict)
      best.close()
      if is_main:
        if metrics:
          path = os.path.join(workdir, 'results.json')
          with writers.output_errors(path), open(path, 'w') as f:
            json.dump(writers.json_safe({'step': num_steps, **metrics}), f, indent=2)
        logging.info(
          'Done at step %d. Samples: %s. Checkpoints: %s. TensorBoard: tensorboard --logdir %s',
          num_steps,
          ', '.join(outputs.written) or 'none',
          ckpt.directory,
          os.path.join(workdir, 'tb'),
        )
      return dp.get_state(state)
    except BaseException:
      with contextlib.suppress(Exception):  # the first error is the one to report
        ckpt.close()
      with contextlib.suppress(Exception):
        best.close()
      raise
    finally:
      log.progress.close()
      iterator.close()
      writer.close()
