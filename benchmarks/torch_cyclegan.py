"""PyTorch CycleGAN train step, the side-by-side reference of `jaxgan.bench --model=cyclegan`.

The reference recipe's networks (ResNet generator: reflect padding, instance
norm, biases; 70x70 PatchGAN with instance norm) and step: G update first
(LSGAN `MSE(D(G(x)), 1)` both ways + 10 x cycle L1 + 5 x identity L1, D not
updated), then D on real images and on fakes drawn through a 50-image pool,
`0.5 x (MSE(D(real), 1) + MSE(D(fake), 0))`. Adam 2e-4, beta1 0.5.

Prints one JSON line like benchmarks/torch_dcgan.py.
"""

import argparse
import random

import torch
from torch import nn
from torch_common import (
  add_device_args,
  maybe_compile,
  setup,
  time_and_report,
)  # this folder: run as a script


class ResnetBlock(nn.Module):
  def __init__(self, dim: int):
    super().__init__()
    self.body = nn.Sequential(
      nn.ReflectionPad2d(1),
      nn.Conv2d(dim, dim, 3),
      nn.InstanceNorm2d(dim),
      nn.ReLU(True),
      nn.ReflectionPad2d(1),
      nn.Conv2d(dim, dim, 3),
      nn.InstanceNorm2d(dim),
    )

  def forward(self, x):
    return x + self.body(x)


def resnet_generator(channels: int, features: int, blocks: int) -> nn.Sequential:
  f = features
  layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, f, 7), nn.InstanceNorm2d(f), nn.ReLU(True)]
  for mult in (1, 2):
    layers += [
      nn.Conv2d(f * mult, f * mult * 2, 3, 2, 1),
      nn.InstanceNorm2d(f * mult * 2),
      nn.ReLU(True),
    ]
  layers += [ResnetBlock(f * 4) for _ in range(blocks)]
  for mult in (4, 2):
    layers += [
      nn.ConvTranspose2d(f * mult, f * mult // 2, 3, 2, 1, output_padding=1),
      nn.InstanceNorm2d(f * mult // 2),
      nn.ReLU(True),
    ]
  layers += [nn.ReflectionPad2d(3), nn.Conv2d(f, channels, 7), nn.Tanh()]
  return nn.Sequential(*layers)


def patch_discriminator(channels: int, features: int, num_layers: int = 3) -> nn.Sequential:
  layers = [nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2, True)]
  mult = 1
  for n in range(1, num_layers + 1):
    prev, mult = mult, min(2**n, 8)
    layers += [
      nn.Conv2d(features * prev, features * mult, 4, 2 if n < num_layers else 1, 1),
      nn.InstanceNorm2d(features * mult),
      nn.LeakyReLU(0.2, True),
    ]
  layers += [nn.Conv2d(features * mult, 1, 4, 1, 1)]
  return nn.Sequential(*layers)


class Pool:
  def __init__(self, size: int):
    self.size, self.images = size, []

  def query(self, images):
    out = []
    for image in images.detach():
      image = image[None]
      if len(self.images) < self.size:
        self.images.append(image)
        out.append(image)
      elif random.random() < 0.5:
        i = random.randrange(self.size)
        out.append(self.images[i].clone())
        self.images[i] = image
      else:
        out.append(image)
    return torch.cat(out)


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument('--size', type=int, default=256)
  p.add_argument('--channels', type=int, default=3)
  p.add_argument('--batch', type=int, default=1)
  p.add_argument('--features', type=int, default=64)
  p.add_argument('--blocks', type=int, default=9)
  p.add_argument('--steps', type=int, default=5)
  p.add_argument('--warmup', type=int, default=2)
  add_device_args(p)
  a = p.parse_args()
  torch.manual_seed(0)
  random.seed(0)
  dev, autocast = setup(a)
  g_ab, g_ba = (resnet_generator(a.channels, a.features, a.blocks).to(dev) for _ in range(2))
  d_a, d_b = (patch_discriminator(a.channels, a.features).to(dev) for _ in range(2))
  g_params = list(g_ab.parameters()) + list(g_ba.parameters())
  d_params = list(d_a.parameters()) + list(d_b.parameters())
  opt_g = torch.optim.Adam(g_params, lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))
  g_ab, g_ba, d_a, d_b = (maybe_compile(m, a) for m in (g_ab, g_ba, d_a, d_b))
  mse, l1 = nn.MSELoss(), nn.L1Loss()
  real_a = torch.rand(a.batch, a.channels, a.size, a.size, device=dev) * 2 - 1
  real_b = torch.rand(a.batch, a.channels, a.size, a.size, device=dev) * 2 - 1
  pool_a, pool_b = Pool(50), Pool(50)

  def step():
    with autocast:
      fake_b, fake_a = g_ab(real_a), g_ba(real_b)
    for p_ in d_params:
      p_.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    with autocast:
      pred_b, pred_a = d_b(fake_b), d_a(fake_a)
      loss_g = (
        mse(pred_b, torch.ones_like(pred_b))
        + mse(pred_a, torch.ones_like(pred_a))
        + 10 * (l1(g_ba(fake_b), real_a) + l1(g_ab(fake_a), real_b))
        + 5 * (l1(g_ab(real_b), real_b) + l1(g_ba(real_a), real_a))
      )
    loss_g.backward()
    opt_g.step()
    for p_ in d_params:
      p_.requires_grad_(True)
    opt_d.zero_grad(set_to_none=True)
    loss_d = 0.0
    for d, real, fake in ((d_b, real_b, pool_b.query(fake_b)), (d_a, real_a, pool_a.query(fake_a))):
      with autocast:
        pr, pf = d(real), d(fake.detach())
        loss_d = loss_d + 0.5 * (mse(pr, torch.ones_like(pr)) + mse(pf, torch.zeros_like(pf)))
    loss_d.backward()
    opt_d.step()
    return loss_g.item() + loss_d.item()

  time_and_report(step, dev, a, g_params, d_params)


if __name__ == '__main__':
  main()
