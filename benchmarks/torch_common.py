"""Shared by the PyTorch benchmark scripts: time a train step and print one JSON line."""

import json
import statistics
import time

import torch

from jaxgan.bench import peak_host_bytes  # no JAX import: bench imports it lazily


def time_and_report(step, dev, args, g_params, d_params) -> None:
  """Runs `step()` `args.warmup` times, times `args.steps` more, prints the summary JSON.

  `step` must wait for the device (e.g. return `loss.item()`), as a host would.
  """
  for _ in range(args.warmup):
    step()
  times = []
  for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  peak = torch.cuda.max_memory_allocated() if dev.type == 'cuda' else peak_host_bytes()
  print(
    json.dumps(
      {
        'impl': 'torch',
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'device': str(dev),
        'size': args.size,
        'channels': args.channels,
        'batch': args.batch,
        'g_params': sum(p.numel() for p in g_params),
        'd_params': sum(p.numel() for p in d_params),
        'step_s_median': round(median, 5),
        'img_per_s': float(f'{args.batch / median:.4g}'),
        'peak_bytes': int(peak),
      }
    )
  )
