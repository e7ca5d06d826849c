"""PyTorch DCGAN train step, the side-by-side reference of `python -m jaxgan.bench --vs-torch`.

The workload matches jaxgan's DCGAN step: G = ConvTranspose2d stack (4x4,
stride 2, padding 1) with BatchNorm + ReLU and a Tanh output; D = Conv2d stack
with BatchNorm (not on the first layer) + LeakyReLU(0.2); no biases; Adam 2e-4,
beta1 0.5. One step = one D update on a real batch and on detached fakes (two
D calls) + one non-saturating G update through the updated D, with
BCE-with-logits, the fakes of one G forward pass used for both.

Prints one JSON line: impl, torch version, threads, params of G and D, median
step seconds, img/s and peak RSS.
"""

import argparse

import torch
from torch import nn
from torch_common import (
  add_device_args,
  maybe_compile,
  setup,
  time_and_report,
)  # this folder: run as a script


def _levels(size: int) -> tuple[int, int]:
  base, levels = size, 0
  while base >= 8 and base % 2 == 0:
    base, levels = base // 2, levels + 1
  return base, levels


def build_generator(latent: int, width: int, channels: int, size: int) -> nn.Sequential:
  base, levels = _levels(size)
  feats = width * 2 ** (levels - 1)
  layers = [
    nn.ConvTranspose2d(latent, feats, base, 1, 0, bias=False),
    nn.BatchNorm2d(feats),
    nn.ReLU(True),
  ]
  for _ in range(levels - 1):
    layers += [
      nn.ConvTranspose2d(feats, feats // 2, 4, 2, 1, bias=False),
      nn.BatchNorm2d(feats // 2),
      nn.ReLU(True),
    ]
    feats //= 2
  layers += [nn.ConvTranspose2d(feats, channels, 4, 2, 1, bias=False), nn.Tanh()]
  return nn.Sequential(*layers)


def build_discriminator(width: int, channels: int, size: int) -> nn.Sequential:
  base, levels = _levels(size)
  layers = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
  feats = width
  for _ in range(levels - 1):
    layers += [
      nn.Conv2d(feats, feats * 2, 4, 2, 1, bias=False),
      nn.BatchNorm2d(feats * 2),
      nn.LeakyReLU(0.2, True),
    ]
    feats *= 2
  layers += [nn.Conv2d(feats, 1, base, 1, 0, bias=False)]
  return nn.Sequential(*layers)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument('--size', type=int, default=64)
  parser.add_argument('--channels', type=int, default=3)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--latent', type=int, default=100)
  parser.add_argument('--width', type=int, default=64)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--warmup', type=int, default=3)
  add_device_args(parser)
  args = parser.parse_args()
  torch.manual_seed(0)
  dev, autocast = setup(args)
  g = build_generator(args.latent, args.width, args.channels, args.size).to(dev)
  d = build_discriminator(args.width, args.channels, args.size).to(dev)
  opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
  g, d = maybe_compile(g, args), maybe_compile(d, args)  # after the optimizers took the params
  bce = nn.BCEWithLogitsLoss()
  real = torch.rand(args.batch, args.channels, args.size, args.size, device=dev) * 2 - 1
  ones = torch.ones(args.batch, device=dev)
  zeros = torch.zeros(args.batch, device=dev)

  def step():
    with autocast:
      fake = g(torch.randn(args.batch, args.latent, 1, 1, device=dev))
    opt_d.zero_grad(set_to_none=True)
    with autocast:
      loss_d = bce(d(real).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    with autocast:
      loss_g = bce(d(fake).view(-1), ones)
    loss_g.backward()
    opt_g.step()
    return loss_d.item() + loss_g.item()  # waits for the device, as a host would

  time_and_report(step, dev, args, g.parameters(), d.parameters())


if __name__ == '__main__':
  main()
