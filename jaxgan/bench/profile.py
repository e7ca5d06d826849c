"""Where a step's time goes: a profiler trace of the step, its parts, single layers and convs.

- `profile_step`: milliseconds per operation of the compiled step (`--profile=N`).
- `breakdown`: G's and D's passes, each compiled alone (`--breakdown`, DCGAN).
- `layer_timings`: one transposed convolution in each of `layers.IMPLS` (`--layer`).
- `conv_rates`: each of D's convolutions' three computations, ms and GFLOP/s
  (`--conv-rates`).
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxgan import layers, seeds
from jaxgan.bench import configs


def profile_step(step, state, batch, top: int, steps: int = 5) -> dict[str, object]:
  """Milliseconds per step of the compiled step's operations, from a JAX profiler trace.

  Traces `steps` steps (each waited for), sums the trace events named after an
  instruction of the step's optimized HLO, and returns the `top` slowest
  instructions (with their output shape and the JAX operation they came from:
  `transpose(jvp(...))` is a backward pass) and the totals per kind of instruction
  (its name without the `.N` suffix, e.g. `convolution`, `fusion`).

  Caveat (XLA:CPU): convolutions on XLA's own path (jaxgan's default flag,
  `jaxgan/xla_cpu.py`) run asynchronously and are not named in the trace;
  their time lands on the operation that waits for them. For per-convolution
  figures run with `JAXGAN_DEFAULT_XLA_FLAGS=0` (YNNPACK convolutions are named).

  Args:
    step: the compiled step, `step(state, batch) -> (state, metrics)`.
    state: its state (placed as `step` wants it).
    batch: its batch.
    top: how many of the slowest operations to return.
    steps: how many steps to trace.

  Returns:
    `ops_ms` (`[name, ms, shape, source]` rows, slowest first), `kinds_ms` and `total_ms`.
  """
  hlo = step.lower(state, batch).compile().as_text()
  shapes, sources = {}, {}
  for m in re.finditer(r'^\s*(?:ROOT )?%?([\w.\-]+) = (\([^)]*\)|\S+) (.*)$', hlo, re.M):
    shapes[m[1]] = m[2]
    op = re.search(r'op_name="(?:jit\([^)]*\)/)?([^"]*)"', m[3])
    sources[m[1]] = op[1] if op else ''
  with tempfile.TemporaryDirectory() as tmp:
    with jax.profiler.trace(tmp, create_perfetto_trace=True):
      for _ in range(steps):
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
    (path,) = glob.glob(os.path.join(tmp, '**', '*perfetto_trace.json.gz'), recursive=True)
    with gzip.open(path) as f:
      events = json.load(f)
  events = events['traceEvents'] if isinstance(events, dict) else events
  per_op = collections.Counter()
  for e in events:
    if e.get('ph') == 'X' and e.get('name') in shapes:
      per_op[e['name']] += e['dur'] / 1e3 / steps
  kinds = collections.Counter()
  for name, ms in per_op.items():
    kinds[re.sub(r'\.\d+$', '', name)] += ms
  return {
    'ops_ms': [[n, round(ms, 3), shapes[n], sources[n]] for n, ms in per_op.most_common(top)],
    'kinds_ms': {k: round(ms, 3) for k, ms in kinds.most_common()},
    'total_ms': round(sum(per_op.values()), 3),
  }


def median_time(fn: Callable, *args, repeats: int = 5) -> float:
  """Median seconds of `jax.jit(fn)(*args)`, waited for, after one call that compiles it."""
  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def breakdown(args: argparse.Namespace) -> dict[str, float]:
  """Seconds of the parts of one DCGAN step: where the time goes.

  A step = G fwd+bwd + D fwd+bwd for its weights (real) + the same (fake)
  + D fwd + bwd to its input only (G's update), plus optimizer and glue.
  """
  config = configs.bench_config(args)
  state = seeds.game_of(config).create_state(config)
  z = jax.random.normal(jax.random.key(0), (args.batch, args.latent))
  x = jax.random.uniform(jax.random.key(1), (args.batch, args.size, args.size, args.channels))
  g_fwd = lambda p, z: state.g.apply(p, z, train=True)[0]
  d_fwd = lambda p, x: state.d.apply(p, x, train=True)[0]
  parts = {
    'g_fwd': (g_fwd, state.g.params, z),
    'g_fwd_bwd': (lambda p, z: jax.grad(lambda p: jnp.sum(g_fwd(p, z) ** 2))(p), state.g.params, z),
    'd_fwd': (d_fwd, state.d.params, x),
    'd_fwd_bwd_weights': (
      lambda p, x: jax.grad(lambda p: jnp.sum(d_fwd(p, x)))(p),
      state.d.params,
      x,
    ),
    'd_fwd_bwd_input': (
      lambda p, x: jax.grad(lambda x: jnp.sum(d_fwd(p, x)))(x),
      state.d.params,
      x,
    ),
  }
  return {name: round(median_time(*part), 4) for name, part in parts.items()}


def layer_timings() -> dict[str, float]:
  """Seconds of forward + backward of DCGAN's 16x16x128 -> 32x32x64 transposed conv, batch 64."""
  x = jax.random.normal(jax.random.key(0), (64, 16, 16, 128))
  kernel = 0.02 * jax.random.normal(jax.random.key(1), (4, 4, 128, 64))
  out = {}
  for impl in layers.IMPLS:
    loss = lambda x, k, impl=impl: jnp.sum(
      layers.conv_transpose(x, k, stride=2, padding=1, impl=impl) ** 2
    )
    out[impl] = round(median_time(jax.grad(loss, argnums=(0, 1)), x, kernel), 4)
  return out


def conv_rates(args: argparse.Namespace) -> list[dict[str, object]]:
  """Milliseconds and GFLOP/s of each DCGAN D convolution's three computations.

  D's 4x4 stride-2 convolutions at `--size/--channels/--width/--batch` (G's
  transposed convolutions are the same three computations in another order):
  the forward, the input gradient and the weight gradient, each compiled
  alone, in `layers.conv`'s 'fast' form (the step's) and XLA's own.

  Returns:
    One row per convolution: `layer`, `gflop`, and `{impl}_{part}_ms` /
    `{impl}_{part}_gflop_s` for impl 'fast', 'xla' and part 'fwd',
    'input_grad', 'weight_grad'.
  """
  rows = []
  size, c_in, c_out = args.size, args.channels, args.width
  while size > 4:
    x = jax.random.normal(jax.random.key(0), (args.batch, size, size, c_in))
    kernel = 0.02 * jax.random.normal(jax.random.key(1), (4, 4, c_in, c_out))
    dy = jnp.ones((args.batch, size // 2, size // 2, c_out))
    gflop = 2 * dy.size * 16 * c_in / 1e9
    row = {'layer': f'{size}x{size}x{c_in}->{c_out}', 'gflop': float(f'{gflop:.4g}')}
    for impl in ('fast', 'xla'):
      conv = lambda x, k, impl=impl: layers.conv(x, k, stride=2, padding=1, impl=impl)
      parts = {
        'fwd': (conv, x, kernel),
        'input_grad': (
          lambda x, k, dy, conv=conv: jax.vjp(lambda x: conv(x, k), x)[1](dy)[0],
          x,
          kernel,
          dy,
        ),
        'weight_grad': (
          lambda x, k, dy, conv=conv: jax.vjp(lambda k: conv(x, k), k)[1](dy)[0],
          x,
          kernel,
          dy,
        ),
      }
      for name, (fn, *inputs) in parts.items():
        ms = 1e3 * median_time(fn, *inputs, repeats=9)
        row[f'{impl}_{name}_ms'] = round(ms, 2)
        row[f'{impl}_{name}_gflop_s'] = round(gflop / ms * 1e3)
    rows.append(row)
    size, c_in, c_out = size // 2, c_out, 2 * c_out
  return rows
