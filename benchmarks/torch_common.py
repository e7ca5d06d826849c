"""Shared by the PyTorch benchmark scripts: time a train step and print one JSON line."""

import argparse
import contextlib
import json
import resource
import statistics
import time

import torch

from jaxgan.bench import peak_host_bytes  # no JAX import: bench imports it lazily


def add_device_args(parser: argparse.ArgumentParser) -> None:
  """The options both scripts share: device, compute dtype and the cuDNN switches."""
  parser.add_argument('--device', default='cpu')
  parser.add_argument(
    '--dtype', default='float32', choices=['float32', 'bfloat16'], help='bfloat16: autocast'
  )
  parser.add_argument(
    '--no-tf32', action='store_true', help='true float32 convolutions on GPU (no TF32)'
  )
  parser.add_argument('--cudnn-benchmark', action='store_true', help='let cuDNN autotune')
  parser.add_argument(
    '--compile',
    default='',
    choices=['', 'default', 'max-autotune'],
    help='wrap each network in torch.compile with this mode (compiled on the first step)',
  )


def maybe_compile(module: torch.nn.Module, args: argparse.Namespace) -> torch.nn.Module:
  """`torch.compile(module, mode=args.compile, dynamic=False)` when asked, else the module.

  Static shapes, as the benchmark's are: D is called on real and on detached fakes, and
  the recompile that causes would otherwise turn dynamic, which fails in torch 2.13's
  inductor on this CPU at DCGAN-64 ('Cannot convert expression to float').
  """
  return torch.compile(module, mode=args.compile, dynamic=False) if args.compile else module


def setup(args: argparse.Namespace) -> tuple[torch.device, contextlib.AbstractContextManager]:
  """Applies the device options; returns the device and the forward passes' autocast context."""
  torch.backends.cudnn.allow_tf32 = not args.no_tf32  # PyTorch's default: TF32 convolutions
  torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default
  torch.backends.cudnn.benchmark = args.cudnn_benchmark
  dev = torch.device(args.device)
  if args.dtype == 'bfloat16':
    return dev, torch.autocast(dev.type, dtype=torch.bfloat16)
  return dev, contextlib.nullcontext()


def time_and_report(step, dev, args, g_params, d_params) -> None:
  """Runs `step()` once (timed apart: torch.compile compiles there), `args.warmup - 1` more
  times, then times `args.steps` more, and prints the summary JSON.

  `step` must wait for the device (e.g. return `loss.item()`), as a host would.
  """
  start = time.perf_counter()
  step()  # the first step: torch.compile compiles here (its time is reported, not timed)
  first = time.perf_counter() - start
  for _ in range(args.warmup - 1):
    step()
  times = []
  before = resource.getrusage(resource.RUSAGE_SELF)
  for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  after = resource.getrusage(resource.RUSAGE_SELF)
  median = statistics.median(times)
  peak = torch.cuda.max_memory_allocated() if dev.type == 'cuda' else peak_host_bytes()
  print(
    json.dumps(
      {
        'impl': 'torch',
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'device': str(dev),
        'dtype': args.dtype,
        'tf32': dev.type == 'cuda' and torch.backends.cudnn.allow_tf32,
        'cudnn_benchmark': torch.backends.cudnn.benchmark,
        'compile': args.compile or 'eager',
        'first_step_s': round(first, 3),
        'size': args.size,
        'channels': args.channels,
        'batch': args.batch,
        'g_params': sum(p.numel() for p in g_params),
        'd_params': sum(p.numel() for p in d_params),
        'step_s_median': round(median, 5),
        'img_per_s': float(f'{args.batch / median:.4g}'),
        'peak_bytes': int(peak),
        'cpu_sys_s_per_step': round((after.ru_stime - before.ru_stime) / args.steps, 4),
        'page_faults_per_step': round((after.ru_minflt - before.ru_minflt) / args.steps),
      }
    )
  )
