"""Timing FID's Inception pool3 extraction (`--model=inception`), optionally beside PyTorch's.

Ours is `jaxgan.eval.features.Inception` (the jitted Flax port); the peer is
`torch_inception.py` running the TorchScript network of the same weights.
"""

import argparse
import json
import statistics
import sys
import time

import jax
import numpy as np

from jaxgan.bench import peers
from jaxgan.bench.timing import img_per_s
from jaxgan.eval import features
from jaxgan.eval.inception import weights_path


def bench_inception(args: argparse.Namespace) -> dict[str, object]:
  """pool3 extraction of `--batch` 299x299 images: our jitted Flax port vs the TorchScript network.

  Alternates `--rounds` rounds of each side; each round is the median of
  `--steps` calls after `--warmup`; the ratio is the median of the paired
  round ratios (torch seconds / ours). Prints a line and the JSON summary.
  """
  peer = peers.script(args.peers, 'torch_inception.py') if args.vs_torch else None
  weights = weights_path(args.inception_weights)
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
    if peer:
      cmd = [
        sys.executable,
        peer,
        f'--weights={weights}',
        f'--batch={args.batch}',
        f'--steps={args.steps}',
        f'--warmup={max(args.warmup, 1)}',
        f'--device={peers.torch_device(args)}',
        f'--dtype={args.dtype}',
      ]
      if args.torch_compile:
        cmd.append(f'--compile={args.torch_compile}')
      hint = 'it needs a TorchScript .pt (--inception-weights) and torch'
      theirs.append(peers.run_script(cmd, hint)['step_s_median'])
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
