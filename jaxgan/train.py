"""The training loop: `train_and_evaluate(config, workdir)` for every unconditional GAN.

The loop builds the state, compiles the pure step once (`parallel.py`),
resumes from the newest checkpoint in `workdir`, and writes metrics
(TensorBoard + `metrics.jsonl`), sample grids (`samples/`) and checkpoints
(`checkpoints/`). Metrics stay on the device until a log step; the host
never runs more than `DataParallel.max_steps_in_flight` steps ahead.
"""

import contextlib
import functools
import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm
from absl import logging

from jaxgan import (
  checkpoint,
  configs,
  cyclegan,
  images,
  models,
  optim,
  parallel,
  pix2pix,
  steps,
  writers,
)
from jaxgan import state as state_lib
from jaxgan.data import pipeline, toy2d
from jaxgan.errors import ConfigError, NonFiniteError


def step_settings(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The keyword settings of `steps.train_step` for this config."""
  loss = config.loss
  try:
    return steps.step_settings(
      loss=loss.name,
      n_critic=loss.n_critic,
      gp_weight=loss.gp_weight,
      r1_gamma=loss.r1_gamma,
      r2_gamma=loss.r2_gamma,
      d_joint=loss.d_joint,
      ema_decay=config.train.ema_decay if config.train.use_ema else None,
    )
  except ValueError as e:
    raise ConfigError(f'config.loss: {e}') from e


def example_shape(config: ml_collections.ConfigDict) -> tuple[int, ...]:
  """Shape of one real example."""
  if config.data.source == 'toy2d':
    return (config.model.data_dim,)
  return (config.data.size, config.data.size, config.data.channels)


def create_state(
  config: ml_collections.ConfigDict, bn_axis_name: str | None = None
) -> state_lib.GANState:
  """The initial game of `config` (deterministic in `config.seed`).

  `bn_axis_name` names pmap's device axis for BatchNorm (None under jit).
  """
  kwargs = {k: v for k, v in config.model.items() if k != 'name'}
  dtype = state_lib.compute_dtype(config)
  try:
    g, d = models.create_models(config.model.name, kwargs, dtype=dtype, bn_axis_name=bn_axis_name)
  except ValueError as e:
    raise ConfigError(str(e)) from e
  latent_dim = config.model.latent_dim
  return state_lib.create_gan_state(
    jax.random.key(config.seed),
    generator=g,
    discriminator=d,
    g_tx=optim.create_optimizer(config.optimizer.g, 'g'),
    d_tx=optim.create_optimizer(config.optimizer.d, 'd'),
    g_inputs=[jnp.zeros((1, latent_dim))],
    d_inputs=[jnp.zeros((1, *example_shape(config)))],
    latent_shape=(latent_dim,),
    use_ema=config.train.use_ema,
  )


def validate(config: ml_collections.ConfigDict) -> None:
  configs.validate(config)
  step_settings(config)
  if config.parallel == 'pmap' and config.loss.name == 'relativistic_average':
    raise ConfigError(
      "config.loss.name='relativistic_average' averages logits over the batch; "
      "under config.parallel='pmap' that would be per device: use 'jit'"
    )
  if config.data.source != 'toy2d' and config.model.name == 'dcgan':
    if (config.data.size, config.data.channels) != (config.model.size, config.model.channels):
      raise ConfigError(
        f'config.data (size {config.data.size}, channels '
        f'{config.data.channels}) must match config.model (size '
        f'{config.model.size}, channels {config.model.channels})'
      )


def _all_finite(tree: Any) -> jax.Array:
  leaves = [
    jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)
  ]
  return jnp.all(jnp.stack(leaves))


class _StopRequest:
  """Turns SIGTERM / SIGINT into a flag the loop checks (a second SIGINT kills)."""

  def __init__(self):
    self.signal_name = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    self.signal_name = signal.Signals(signum).name
    signal.signal(signal.SIGINT, signal.default_int_handler)

  def __enter__(self):
    if jax.process_count() == 1:  # jax.distributed installs its own SIGTERM handling
      for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not on the main thread
          self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class _Evaluator:
  """Sample grids (images) or scatter plots and mode coverage (2-D mixtures)."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str, writer, dp, is_main):
    self.config = config
    self.dp = dp
    self.rng = jax.random.fold_in(jax.random.key(config.seed), 0x5EED)
    # A fixed latent batch: grids are comparable across steps and across a resume.
    self.z = jax.random.normal(self.rng, (config.eval.num_samples, config.model.latent_dim))
    self.is_main = is_main  # every process computes samples; process 0 writes them
    self.sample_dir = os.path.join(workdir, 'samples')
    self.writer = writer
    self.mixture = toy2d.get_mixture(config.data.name) if config.data.source == 'toy2d' else None
    self._generate = jax.jit(steps.generate)

  def samples(self, state, z) -> np.ndarray:
    """G's outputs for latents `z`, from the logical (unplaced) `state`."""
    return self.dp.fetch(self._generate(state, self.dp.replicate(np.asarray(z))))

  def __call__(self, state, name: str, step: int) -> tuple[str, dict[str, float]]:
    samples = self.samples(state, self.z)
    metrics = {}
    if self.mixture is not None:
      image = images.render_points(samples, self.mixture.means)
      metrics = toy2d.mode_coverage(self.mixture, samples)
    else:
      image = images.make_grid(samples)
    path = os.path.join(self.sample_dir, f'{name}.png')
    if self.is_main:
      images.save_png(image, path)
    self.writer.image(step, 'samples', image)
    if metrics:
      self.writer.scalars(step, {f'eval/{k}': v for k, v in metrics.items()})
    return path, metrics

  def final(self, state) -> list[str]:
    """Extra outputs at the end of training: the latent interpolation strip."""
    strip = self.interpolation(state, jax.random.fold_in(self.rng, 1))
    return [strip] if strip else []

  def interpolation(self, state, rng) -> str | None:
    if self.mixture is not None:
      return None
    rows, cols = self.config.eval.interpolation_rows, self.config.eval.interpolation_steps
    ends = np.asarray(jax.random.normal(rng, (2, rows, *state.latent_shape)))
    z = images.slerp(ends[0], ends[1], np.linspace(0.0, 1.0, cols)).reshape(rows * cols, -1)
    grid = images.make_grid(self.samples(state, z), ncol=cols)
    path = os.path.join(self.sample_dir, 'interpolation.png')
    return images.save_png(grid, path) if self.is_main else path


def _mean_metrics(pending: list[tuple[int, dict]], dp: parallel.DataParallel) -> dict[str, float]:
  """Averages fetched per-step metrics; raises NonFiniteError at the first bad step."""
  host = dp.fetch([m for _, m in pending], per_device=True)
  for (step, _), values in zip(pending, host, strict=True):
    bad = {k: float(v) for k, v in values.items() if not np.isfinite(v)}
    if bad:
      raise NonFiniteError(f'non-finite loss at step {step}: {bad}')
  return {k: float(np.mean([v[k] for v in host])) for k in host[0]}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> state_lib.GANState:
  """Trains `config` in `workdir`, resuming from its newest checkpoint.

  Returns:
    The final state.

  Raises:
    ConfigError, DataError, CheckpointError: bad input, before any work is lost.
    NonFiniteError: a loss became NaN/inf; the last good checkpoint is kept.
  """
  parallel.initialize_distributed(config.distributed)
  game = get_game(config)
  game.validate(config)
  workdir = os.path.abspath(workdir)
  is_main = jax.process_index() == 0
  config_dict = config.to_dict()
  dp = parallel.DataParallel(config.parallel, config.num_devices)
  dp.check_batch_size(config.train.batch_size)

  ckpt = checkpoint.Checkpointer(workdir, keep=config.train.keep_checkpoints)
  ckpt.check_same_experiment(config_dict)
  batches = game.create_batches(
    config, process_index=jax.process_index(), process_count=jax.process_count()
  )

  state = dp.put_state(game.create_state(config, bn_axis_name=dp.axis_name))
  if ckpt.latest_step() is not None:
    # Restored onto this run's placement: any device count, either mode.
    state = dp.put_state(ckpt.restore(dp.get_state(state)))
  start = int(dp.fetch(state.step, per_device=True))
  if start:
    logging.info('Resumed from %s at step %d.', ckpt.directory, start)
  if is_main:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump(config_dict, f, indent=2)

  writer = writers.MetricWriter(workdir, enabled=is_main)
  evaluator = game.evaluator(config, workdir, writer, dp, is_main)
  train_step = dp.compile(game.step_fn(config))
  all_finite = jax.jit(_all_finite)

  num_steps = config.train.num_steps
  progress = tqdm.tqdm(
    total=num_steps,
    initial=start,
    disable=not (is_main and config.train.progress),
    dynamic_ncols=True,
    desc='train',
  )
  pending: list[tuple[int, dict]] = []
  last_log_time, last_log_step, input_wait = time.perf_counter(), start, 0.0
  last_good = ckpt.latest_step()
  iterator = batches.iterate(start)

  def flush_metrics(step: int) -> dict[str, float]:
    nonlocal pending, last_log_time, last_log_step, input_wait
    if not pending:
      return {}
    try:
      values = _mean_metrics(pending, dp)
    except NonFiniteError as e:
      where = f'step {last_good} in {ckpt.directory}' if last_good is not None else 'none'
      raise NonFiniteError(
        f'{e}; stopped. Last good checkpoint: {where}. Lower the learning '
        'rates or add a penalty (config.loss.r1_gamma) and resume.'
      ) from None
    now = time.perf_counter()
    elapsed = now - last_log_time
    steps_per_s = (step - last_log_step) / elapsed
    values.update(
      steps_per_s=steps_per_s,
      img_per_s=steps_per_s * config.train.batch_size,
      input_wait_fraction=input_wait / elapsed,
    )
    writer.scalars(step, values)
    progress.set_postfix(
      d_loss=f'{values["d_loss"]:.3f}',
      g_loss=f'{values["g_loss"]:.3f}',
      img_s=f'{values["img_per_s"]:.0f}',
      refresh=False,
    )
    if progress.disable and is_main:
      logging.info(
        'step %d: d_loss %.4f g_loss %.4f, %.1f steps/s',
        step,
        values['d_loss'],
        values['g_loss'],
        steps_per_s,
      )
    pending, last_log_time, last_log_step, input_wait = [], now, step, 0.0
    return values

  def save(step: int) -> None:
    nonlocal last_good
    flush_metrics(step)
    if not bool(dp.fetch(all_finite(dp.get_state(state)))):
      raise NonFiniteError(
        f'the state has non-finite values at step {step}; not saved. Last '
        f'good checkpoint: step {last_good} in {ckpt.directory}.'
      )
    ckpt.save(step, dp.get_state(state), config_dict)
    last_good = step

  with _StopRequest() as stop:
    try:
      step = start
      for step in range(start + 1, num_steps + 1):
        t0 = time.perf_counter()
        batch = dp.shard_batch(next(iterator))
        input_wait += time.perf_counter() - t0
        state, metrics = train_step(state, batch)
        pending.append((step, metrics))
        progress.update(1)
        if step == start + 1:
          jax.block_until_ready(metrics)  # the first step includes compilation
          logging.info('First step (compilation included) took %.1f s.', time.perf_counter() - t0)
          last_log_time, last_log_step, pending = time.perf_counter(), step, []
        if step % config.train.log_every == 0:
          flush_metrics(step)
        elif step % dp.max_steps_in_flight == 0:
          jax.block_until_ready(metrics)
        if step % config.train.sample_every == 0:
          evaluator(dp.get_state(state), f'step_{step:07d}', step)
        if step % config.train.checkpoint_every == 0:
          save(step)
        if stop.signal_name:
          save(step)
          logging.warning(
            '%s received: saved a checkpoint at step %d in %s; run the same command to resume.',
            stop.signal_name,
            step,
            ckpt.directory,
          )
          return dp.get_state(state)
      if start < num_steps:
        save(num_steps)
      path, metrics = evaluator(dp.get_state(state), 'final', num_steps)
      extra = evaluator.final(dp.get_state(state))
      if is_main:
        if metrics:
          with open(os.path.join(workdir, 'results.json'), 'w') as f:
            json.dump({'step': num_steps, **metrics}, f, indent=2)
        logging.info(
          'Done at step %d. Samples: %s%s. Checkpoints: %s. TensorBoard: tensorboard --logdir %s',
          num_steps,
          path,
          ''.join(f', {p}' for p in extra),
          ckpt.directory,
          os.path.join(workdir, 'tb'),
        )
      return dp.get_state(state)
    finally:
      progress.close()
      iterator.close()
      ckpt.close()
      writer.close()


class Game(NamedTuple):
  """What differs between games; the loop, checkpoints and logs are shared."""

  validate: Callable[[ml_collections.ConfigDict], None]
  create_state: Callable[..., state_lib.GANState]
  step_fn: Callable[[ml_collections.ConfigDict], Callable]
  create_batches: Callable[..., pipeline.BatchSource]
  evaluator: Callable[..., Any]


def _create_unconditional_batches(config, *, process_index: int = 0, process_count: int = 1):
  return pipeline.create_batches(
    config.data,
    global_batch=config.train.batch_size,
    seed=config.seed,
    process_index=process_index,
    process_count=process_count,
  )


GAMES: dict[str, Game] = {
  'gan': Game(
    validate,
    create_state,
    lambda config: functools.partial(steps.train_step, **step_settings(config)),
    _create_unconditional_batches,
    _Evaluator,
  ),
  'cyclegan': Game(
    cyclegan.validate,
    cyclegan.create_state,
    cyclegan.step_fn,
    cyclegan.create_batches,
    cyclegan.Evaluator,
  ),
  'pix2pix': Game(
    pix2pix.validate,
    pix2pix.create_state,
    pix2pix.step_fn,
    pix2pix.create_batches,
    pix2pix.Evaluator,
  ),
}


def get_game(config: ml_collections.ConfigDict) -> Game:
  name = config.get('game', 'gan')
  if name not in GAMES:
    raise ConfigError(f'unknown config.game {name!r}; known: {", ".join(sorted(GAMES))}')
  return GAMES[name]
