"""The PyTorch peers: the same workload timed by a PyTorch script in a child process.

The scripts (`torch_dcgan.py`, `torch_cyclegan.py`, `torch_stylegan2.py`,
`torch_inception.py` and their `torch_common.py`) are not part of the installed
package: they live in the repository's `benchmarks/` folder, and `--peers=DIR`
names the folder (default `benchmarks`, relative to the current directory: a
checkout's root). Each prints one JSON line; `compare` pairs its rounds with ours.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import jax

import jaxgan
from jaxgan.bench import configs
from jaxgan.bench.timing import img_per_s
from jaxgan.errors import JaxganError

SCRIPTS = (
  'torch_dcgan.py',
  'torch_cyclegan.py',
  'torch_stylegan2.py',
  'torch_inception.py',
  'torch_common.py',
)


class PeerError(JaxganError):
  """A PyTorch peer script is missing or failed."""


def script(peers: str, name: str) -> str:
  """The path of the peer script `name` in the folder `peers`.

  Raises:
    PeerError: when there is no such file (the message says where the peers live).
  """
  path = os.path.join(peers, name)
  if not os.path.isfile(path):
    raise PeerError(
      f"no {path}: the PyTorch peers ({', '.join(SCRIPTS)}) live in the repository's "
      'benchmarks/ folder; run from a checkout or pass --peers=DIR'
    )
  return path


def step_script(args: argparse.Namespace) -> str:
  """The peer of `--model`'s train step, e.g. `<--peers>/torch_dcgan.py`.

  Raises:
    PeerError: when there is no such file, or the peer cannot run the workload `args` ask
      for (StyleGAN2's port: float32 only, no augmentation).
  """
  path = script(args.peers, f'torch_{args.model}.py')
  if args.model == 'stylegan2':
    if args.dtype != 'float32':
      raise PeerError(f'the PyTorch StyleGAN2 port runs float32 only; got --dtype={args.dtype}')
    if configs.bench_config(args).augment.mode != 'none':
      raise PeerError(f'the PyTorch StyleGAN2 port does not augment; got --augment={args.augment}')
  return path


def torch_device(args: argparse.Namespace) -> str:
  """`--torch-device`, else 'cuda' when JAX runs on a GPU, else 'cpu'."""
  return args.torch_device or ('cuda' if jax.devices()[0].platform == 'gpu' else 'cpu')


def run_torch(args: argparse.Namespace, device: str) -> dict[str, object]:
  """Times `--model`'s train step in PyTorch on `device`, with the same workload flags as ours."""
  cmd = [
    sys.executable,
    step_script(args),
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
  elif args.model == 'stylegan2':
    cmd += stylegan2_flags(configs.bench_config(args))
  else:
    cmd += [f'--latent={args.latent}', f'--width={args.width}']
  return run_script(cmd, "install it with pip install -e '.[bench]'")


def stylegan2_flags(config: configs.ConfigDict) -> list[str]:
  """`torch_stylegan2.py`'s flags for the bench's StyleGAN2 `config`: the train step, its shapes."""
  m, loss = config.model, config.loss
  flags = ['--impl=torch', '--step=train', f'--latent={m.z_dim}']
  flags += [f'--channel-base={m.channel_base}', f'--channel-max={m.channel_max}']
  flags += [f'--mapping-layers={m.mapping_layers}', f'--num-classes={m.num_classes}']
  flags += [f'--mbstd-group={m.mbstd_group}', f'--d-architecture={m.d_architecture}']
  flags += [f'--modconv={m.modconv}', f'--r1-every={loss.r1_every}', f'--r1-gamma={loss.r1_gamma}']
  return flags + (['--ema'] if config.train.use_ema else [])


def run_script(cmd: list[str], hint: str) -> dict[str, object]:
  """Runs a PyTorch peer script; returns the JSON of its last line.

  The scripts import `jaxgan.bench` (for `peak_host_bytes`): the child's
  `PYTHONPATH` starts with the folder this `jaxgan` was imported from, so it
  finds the same package even where jaxgan is not installed.

  Raises:
    PeerError: when the script fails (with its last line of stderr and `hint`).
  """
  root = os.path.dirname(os.path.dirname(os.path.abspath(jaxgan.__file__)))
  env = dict(
    os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')]))
  )
  result = subprocess.run(cmd, capture_output=True, text=True, env=env)
  if result.returncode:
    last = (result.stderr.strip().splitlines() or ['?'])[-1]
    raise PeerError(f'the PyTorch side failed ({last}); {hint}')
  return json.loads(result.stdout.strip().splitlines()[-1])


def compare(
  args: argparse.Namespace, ours: dict[str, object], theirs: list[dict[str, object]]
) -> dict[str, object]:
  """Prints our step beside PyTorch's; returns the summary's `torch_*` and `ratio*` entries.

  Each PyTorch round is paired with our round just before it, so a machine
  that drifts moves both sides of one ratio (torch seconds / ours); the
  ratio reported is the median of the rounds' ratios.

  Raises:
    PeerError: when the two sides' parameter counts differ (not the same networks).
  """
  first = theirs[0]
  if (first['g_params'], first['d_params']) != (ours['g_params'], ours['d_params']):
    raise PeerError(
      f'parameter counts differ: jaxgan G/D {ours["g_params"]}/{ours["d_params"]}, '
      f'torch {first["g_params"]}/{first["d_params"]}'
    )
  ratios = [t['step_s_median'] / o for t, o in zip(theirs, ours['step_s_rounds'], strict=True)]
  ratio = statistics.median(ratios)
  torch_step = statistics.median(t['step_s_median'] for t in theirs)
  peak = max(t['peak_bytes'] for t in theirs)
  print(
    f'torch {first["torch"]} {first.get("compile", "eager")} ({first["threads"]} threads, '
    f'{torch_device(args)}; first step {first.get("first_step_s")} s): median step '
    f'{torch_step} s, {img_per_s(args.batch, torch_step)} img/s, peak '
    f'{peak / 2**20:.0f} MiB; same parameter counts '
    f'(G {ours["g_params"]:,}, D {ours["d_params"]:,}); ratio {ratio:.2f}'
    + (
      f' (median of {len(ratios)} rounds: {", ".join(f"{r:.2f}" for r in ratios)})'
      if len(ratios) > 1
      else ''
    )
  )
  out = {
    'torch_compile': first.get('compile', 'eager'),
    'torch_first_step_s': first.get('first_step_s'),
    'torch_img_per_s': img_per_s(args.batch, torch_step),
    'torch_step_s': torch_step,
    'torch_peak_bytes': peak,
    'torch_page_faults_per_step': first.get('page_faults_per_step'),
    'ratio': round(ratio, 3),
  }
  if len(ratios) > 1:
    out['torch_step_s_rounds'] = [t['step_s_median'] for t in theirs]
    out['ratio_rounds'] = [round(r, 3) for r in ratios]
  if 'step_s_mean' in first:
    out.update(_compare_means(args, ours, theirs))
  return out


def _compare_means(
  args: argparse.Namespace, ours: dict[str, object], theirs: list[dict[str, object]]
) -> dict[str, object]:
  """The ratio of mean steps: a lazy regulariser's steps count (a median hides them).

  Both sides run StyleGAN2's R1 every `r1_every` steps (ours: the R1 phase of
  `parallel.PhasedStep`). Medians compare the steps without R1 only; means over whole R1
  intervals (`--steps` a multiple of `r1_every`) compare what training costs.
  """
  every = configs.bench_config(args).loss.r1_every
  means = [t['step_s_mean'] for t in theirs]
  ratios = [t / o for t, o in zip(means, ours['step_s_mean_rounds'], strict=True)]
  ratio, mean = statistics.median(ratios), statistics.median(ours['step_s_mean_rounds'])
  whole = args.steps % every == 0
  print(
    f'mean step over a round of {args.steps} steps (lazy R1 every {every} in PyTorch'
    + ('' if whole else f'; not a multiple of {every}: its rounds hold more or fewer R1 steps')
    + f'): jaxgan {mean:.4g} s, torch {statistics.median(means):.4g} s; ratio {ratio:.2f}'
    + (f' (rounds: {", ".join(f"{r:.2f}" for r in ratios)})' if len(ratios) > 1 else '')
  )
  return {
    'jaxgan_step_s_mean': round(mean, 5),
    'torch_step_s_mean': round(statistics.median(means), 5),
    'ratio_mean': round(ratio, 3),
    'ratio_mean_whole_r1_intervals': whole,
  }
