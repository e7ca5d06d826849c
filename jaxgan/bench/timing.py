"""Timing the project's real jitted train step: compile, warm up, median of waited-for steps.

`run_jaxgan` builds the state and step exactly as the trainer does (the
game's `create_state` and `step_fn`, `parallel.DataParallel.compile`) on a
synthetic batch (`configs.example_batch`), times the first step (compilation
included) apart, then `--rounds` medians of `--steps` steps, each waited for,
then the same steps without a wait (as the trainer runs them).
"""

import argparse
import itertools
import statistics
import time
from collections.abc import Callable

import jax

from jaxgan import configs as jaxgan_configs
from jaxgan import parallel, seeds
from jaxgan.bench import configs, host, profile
from jaxgan.state import count_params


def img_per_s(batch: int, seconds: float) -> float:
  """Images per second to 4 significant digits (slow steps, e.g. CycleGAN, stay readable)."""
  return float(f'{batch / seconds:.4g}')


def device_memory() -> tuple[int, int | None]:
  """(peak, now) accelerator bytes in use; on CPU the process's peak resident memory, None.

  On GPU the allocator's peak also counts the scratch space XLA's autotuner
  tries convolution algorithms in while compiling; `now` is what the
  training state and the step's buffers hold after the timed steps.
  """
  device = jax.devices()[0]
  stats = device.memory_stats() if device.platform != 'cpu' else None
  if stats and 'peak_bytes_in_use' in stats:
    return int(stats['peak_bytes_in_use']), int(stats.get('bytes_in_use', 0))
  return host.peak_host_bytes(), None


def run_jaxgan(
  args: argparse.Namespace, after_round: Callable[[int], None] | None = None
) -> dict[str, object]:
  """Compiles and times the project's train step of `configs.bench_config(args)`.

  Args:
    args: the bench's flags (`--steps`, `--warmup`, `--rounds`, `--profile`, ...).
    after_round: called with `i` after timed round `i` (the PyTorch side runs there).

  Returns:
    The step's figures: `step_s_median` (median of the rounds' medians),
    `step_s_rounds`, `step_s_mean_rounds` (each round's mean: a lazy regulariser's steps
    count), `img_per_s`, `img_per_s_pipelined`, `first_step_s`,
    memory, host cost per step, parameter counts, devices and versions.
  """
  if args.precision != 'default':
    jax.config.update('jax_default_matmul_precision', args.precision)
  config = configs.bench_config(args)
  game = seeds.game_of(config)
  jaxgan_configs.validate(config)
  dp = parallel.DataParallel(config.parallel, config.num_devices)
  dp.check_batch_size(args.batch)
  state = game.create_state(config, axis_name=dp.axis_name)
  params = (count_params(state.g.params), count_params(state.d.params))
  state = dp.put_state(state)
  phased = dp.compile_phased(game, config)  # as the trainer: one step per lazy phase
  batch = dp.shard_batch(configs.example_batch(config))
  index = itertools.count()
  step = lambda state, batch: phased(state, batch, next(index))

  start = time.perf_counter()
  state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  first = time.perf_counter() - start
  for _ in range(args.warmup):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  rounds, means = [], []
  before = host.usage()
  for i in range(args.rounds):
    times = []
    for _ in range(args.steps):
      start = time.perf_counter()
      state, metrics = step(state, batch)
      jax.block_until_ready(metrics)
      times.append(time.perf_counter() - start)
    rounds.append(statistics.median(times))
    means.append(statistics.fmean(times))
    if i == 0:
      cost = host.host_cost(before, host.usage(), args.steps)
    if after_round is not None:
      after_round(i)
  median = statistics.median(rounds)
  start = time.perf_counter()  # as the trainer runs: no wait between steps
  for _ in range(args.steps):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  pipelined = (time.perf_counter() - start) / args.steps
  peak, live = device_memory()
  plain = phased.get(1, state, batch)  # the step of most updates (no lazy regulariser)
  ops = profile.profile_step(plain, state, batch, args.profile) if args.profile else None
  return {
    'profile': ops,
    'img_per_s_pipelined': img_per_s(args.batch, pipelined),
    'g_params': params[0],
    'd_params': params[1],
    'first_step_s': round(first, 3),
    'step_s_median': round(median, 5),
    'step_s_rounds': [round(r, 5) for r in rounds],
    'step_s_mean_rounds': [round(r, 5) for r in means],
    'img_per_s': img_per_s(args.batch, median),
    'peak_bytes': peak,
    'live_bytes': live,
    **cost,
    'device': jax.devices()[0].device_kind,
    'devices': dp.size,
    'jax': jax.__version__,
  }
