"""PyTorch port of jaxgan's StyleGAN2 networks, timed against them on the same workload.

The port mirrors `jaxgan/models/stylegan2.py` layer for layer (same parameter
shapes and counts, same multiply-adds): equalised-learning-rate dense and conv
layers, the mapping network, the skip generator with modulated convolutions
(2x up-sampling as a stride-2 transposed convolution followed by the separable
[1, 3, 3, 1] FIR filter; down-sampling as the filter followed by a stride-2
convolution), per-layer noise, and the residual discriminator with minibatch
standard deviation and projection conditioning. `--modconv` picks the modulated
convolution in both: 'fused' (one grouped convolution, batch folded into the
groups; the default) or 'unfused' (activations scaled, shared kernel, outputs
scaled). `--d-architecture=orig` drops D's shortcuts (ADA's CIFAR D).

Workload (`--step=grads`, the default; `--impl=torch`, or `--impl=jax` for
jaxgan's networks on the same shapes): per step, G forward + backward
(`mean(G(z) * r)` for a fixed random `r`, gradients of G's parameters, random
noise drawn each call), then D forward + backward (`mean(softplus(D(x)))` on a
fixed batch, gradients of D's parameters). Each side is waited for. Prints one
JSON line: parameter counts, the median G, D and step (G + D) seconds, peak memory.

`--step=train` (PyTorch only) is the step of `python -m jaxgan.bench
--model=stylegan2 --vs-torch`, jaxgan's game step without augmentation: G's
Adam update on `softplus(-D(G(z)))` (D's parameters frozen), then D's on
`softplus(D(G(z'))) + softplus(-D(x))` (G under no_grad), D's lazy R1 update
every `--r1-every` steps (Adam lr and betas adjusted by `every / (every + 1)`),
`--ema` G's EMA; not w_avg's update (one mean over the batch).

  python benchmarks/torch_stylegan2.py --size=32 --batch=8 --impl=torch
  python benchmarks/torch_stylegan2.py --size=32 --batch=8 --impl=jax
"""

import argparse
import itertools
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch_common import add_device_args, maybe_compile, setup  # this folder: run as a script

from jaxgan.bench import peak_host_bytes  # no JAX import: bench imports it lazily

SQRT2 = math.sqrt(2.0)


def _fir_taps() -> torch.Tensor:
  taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
  return taps / taps.sum()


def upfirdn2d(x, *, up=1, down=1, pad=(0, 0), gain=1.0):
  """NCHW: zeros inserted, padded, filtered by the separable [1, 3, 3, 1] (one axis at a time,
  4 taps each, as jaxgan), decimated."""
  b, c, h, w = x.shape
  if up > 1:
    x = x.reshape(b, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
  x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
  taps = _fir_taps().to(x.device, x.dtype)  # symmetric: correlation == convolution
  fy = (taps * gain).view(1, 1, 4, 1).repeat(c, 1, 1, 1)
  fx = taps.view(1, 1, 1, 4).repeat(c, 1, 1, 1)
  x = F.conv2d(x, fy, stride=(down, 1), groups=c)
  return F.conv2d(x, fx, stride=(1, down), groups=c)


def upsample2d(x):
  return upfirdn2d(x, up=2, pad=(2, 1), gain=4.0)


def conv2d_resample(x, weight, *, up=1, down=1, groups=1):
  """`weight` `[O, I / groups, k, k]`; same-size output, or 2x up/down through the filter."""
  k = weight.shape[-1]
  if up == 2:
    # Transposed weights [I, O / groups, k, k]: per group, swap the in/out axes.
    o, i = weight.shape[:2]
    wt = weight.reshape(groups, o // groups, i, k, k).transpose(1, 2).reshape(groups * i, -1, k, k)
    y = F.conv_transpose2d(x, wt.flip(2, 3), stride=2, groups=groups)
    before = 5 // 2 - (k - 1) // 2
    return upfirdn2d(y, pad=(before, 5 - k - before), gain=4.0)
  if down == 2:
    x = upfirdn2d(x, pad=(1 + (k - 1) // 2, 1 + (k - 1) // 2))
    return F.conv2d(x, weight, stride=2, groups=groups)
  return F.conv2d(x, weight, padding=k // 2, groups=groups)


def activate(x, lrelu, gain=1.0, clamp=None):
  if lrelu:
    x = F.leaky_relu(x, 0.2) * (SQRT2 * gain)
  elif gain != 1.0:
    x = x * gain
  if clamp is not None:
    x = x.clamp(-clamp * gain, clamp * gain)
  return x


class EqualizedDense(nn.Module):
  def __init__(self, fan_in, features, *, lr_mul=1.0, bias_init=0.0, lrelu=False):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(features, fan_in) / lr_mul)
    self.bias = nn.Parameter(torch.full([features], bias_init / lr_mul))
    self.scale, self.lr_mul, self.lrelu = lr_mul / math.sqrt(fan_in), lr_mul, lrelu

  def forward(self, x):
    return activate(F.linear(x, self.weight * self.scale, self.bias * self.lr_mul), self.lrelu)


class EqualizedConv(nn.Module):
  def __init__(self, c_in, c_out, k, *, down=1, bias=True, lrelu=False, gain=1.0, clamp=None):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
    self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
    self.scale, self.down, self.lrelu, self.gain, self.clamp = (
      1 / math.sqrt(c_in * k * k), down, lrelu, gain, clamp
    )  # fmt: skip

  def forward(self, x):
    y = conv2d_resample(x, self.weight * self.scale, down=self.down)
    if self.bias is not None:
      y = y + self.bias.view(1, -1, 1, 1)
    return activate(y, self.lrelu, self.gain, self.clamp)


def modulated_conv(x, weight, styles, *, demodulate=True, up=1, fused=True):
  """x `[B, I, H, W]`, weight `[O, I, k, k]`, styles `[B, I]`."""
  b, c_in, h, w = x.shape
  c_out, _, k, _ = weight.shape
  if demodulate:
    energy = styles.square() @ weight.square().sum([2, 3]).t()  # [B, O]
    coefficients = (energy + 1e-8).rsqrt()
  if not fused:
    y = conv2d_resample(x * styles.view(b, c_in, 1, 1), weight, up=up)
    return y * coefficients.view(b, c_out, 1, 1) if demodulate else y
  kernels = weight.unsqueeze(0) * styles.view(b, 1, c_in, 1, 1)  # [B, O, I, k, k]
  if demodulate:
    kernels = kernels * coefficients.view(b, c_out, 1, 1, 1)
  y = conv2d_resample(
    x.reshape(1, b * c_in, h, w), kernels.reshape(b * c_out, c_in, k, k), up=up, groups=b
  )
  return y.reshape(b, c_out, *y.shape[2:])


class StyledConv(nn.Module):
  def __init__(self, w_dim, c_in, c_out, res, *, up=1, fused=True, clamp=None):
    super().__init__()
    self.affine = EqualizedDense(w_dim, c_in, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
    self.noise_strength = nn.Parameter(torch.zeros([]))
    self.bias = nn.Parameter(torch.zeros(c_out))
    self.register_buffer('noise_const', torch.randn(res, res))
    self.res, self.up, self.fused, self.clamp = res, up, fused, clamp

  def forward(self, x, w):
    y = modulated_conv(x, self.weight, self.affine(w), up=self.up, fused=self.fused)
    noise = torch.randn(y.shape[0], 1, self.res, self.res, device=y.device, dtype=y.dtype)
    y = y + noise * self.noise_strength
    return activate(y + self.bias.view(1, -1, 1, 1), True, clamp=self.clamp)


class ToImage(nn.Module):
  def __init__(self, w_dim, c_in, channels, *, fused=True, clamp=None):
    super().__init__()
    self.affine = EqualizedDense(w_dim, c_in, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(channels, c_in, 1, 1))
    self.bias = nn.Parameter(torch.zeros(channels))
    self.scale, self.fused, self.clamp = 1 / math.sqrt(c_in), fused, clamp

  def forward(self, x, w):
    styles = self.affine(w) * self.scale
    y = modulated_conv(x, self.weight, styles, demodulate=False, fused=self.fused)
    return activate(y + self.bias.view(1, -1, 1, 1), False, clamp=self.clamp)


def channels_at(res, base, cmax):
  return min(base // res, cmax)


class Mapping(nn.Module):
  def __init__(self, z_dim, w_dim, num_classes, layers, lr_mul=0.01):
    super().__init__()
    self.z_dim = z_dim
    self.embed = EqualizedDense(num_classes, w_dim) if num_classes else None
    fan_in = z_dim + (w_dim if num_classes else 0)
    self.fcs = nn.ModuleList(
      EqualizedDense(fan_in if i == 0 else w_dim, w_dim, lr_mul=lr_mul, lrelu=True)
      for i in range(layers)
    )
    self.register_buffer('w_avg', torch.zeros(w_dim))

  def forward(self, z, c):
    norm = lambda v: v * (v.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    parts = [norm(z)] if self.z_dim else []
    if self.embed is not None:
      parts.append(norm(self.embed(c)))
    x = torch.cat(parts, 1)
    for fc in self.fcs:
      x = fc(x)
    return x


class Generator(nn.Module):
  def __init__(self, a):
    super().__init__()
    self.mapping = Mapping(a.latent, a.latent, a.num_classes, a.mapping_layers)
    self.log2 = int(math.log2(a.size))
    fused, self.blocks = a.modconv == 'fused', nn.ModuleList()
    self.const = nn.Parameter(torch.randn(channels_at(4, a.channel_base, a.channel_max), 4, 4))
    for level in range(self.log2 - 1):
      res = 4 * 2**level
      c_out = channels_at(res, a.channel_base, a.channel_max)
      c_in = channels_at(res // 2, a.channel_base, a.channel_max) if level else c_out
      block = nn.ModuleDict()
      if level:
        block['conv0'] = StyledConv(a.latent, c_in, c_out, res, up=2, fused=fused)
      block['conv1'] = StyledConv(a.latent, c_out, c_out, res, fused=fused)
      block['torgb'] = ToImage(a.latent, c_out, a.channels, fused=fused)
      self.blocks.append(block)

  def forward(self, z, c):
    w = self.mapping(z, c)  # every layer's style is w (no mixing in the timed step)
    x = self.const.unsqueeze(0).repeat(z.shape[0], 1, 1, 1)
    img = None
    for block in self.blocks:
      if 'conv0' in block:
        x = block['conv0'](x, w)
      x = block['conv1'](x, w)
      y = block['torgb'](x, w)
      img = y if img is None else upsample2d(img) + y
    return img


class Discriminator(nn.Module):
  def __init__(self, a):
    super().__init__()
    ch = lambda r: channels_at(r, a.channel_base, a.channel_max)
    self.fromrgb = EqualizedConv(a.channels, ch(a.size), 1, lrelu=True)
    self.blocks = nn.ModuleList()
    residual = a.d_architecture == 'resnet'
    g = math.sqrt(0.5) if residual else 1.0
    for res in (2**i for i in range(int(math.log2(a.size)), 2, -1)):
      block = nn.ModuleDict()
      if residual:
        block['skip'] = EqualizedConv(ch(res), ch(res // 2), 1, down=2, bias=False, gain=g)
      block['conv0'] = EqualizedConv(ch(res), ch(res), 3, lrelu=True)
      block['conv1'] = EqualizedConv(ch(res), ch(res // 2), 3, down=2, lrelu=True, gain=g)
      self.blocks.append(block)
    c4, self.group = ch(4), a.mbstd_group
    self.conv = EqualizedConv(c4 + 1, c4, 3, lrelu=True)
    self.fc = EqualizedDense(c4 * 16, c4, lrelu=True)
    self.out = EqualizedDense(c4, c4 if a.num_classes else 1)
    self.mapping = Mapping(0, c4, a.num_classes, a.mapping_layers) if a.num_classes else None

  def forward(self, x, c):
    x = self.fromrgb(x)
    for block in self.blocks:
      y = block['conv1'](block['conv0'](x))
      x = block['skip'](x) + y if 'skip' in block else y
    n, ch, h, w = x.shape
    g = self.group if 0 < self.group <= n and n % self.group == 0 else n
    y = x.reshape(g, n // g, ch, h, w)
    std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean([1, 2, 3])  # [N / G]
    x = torch.cat([x, std.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w)], 1)
    x = self.fc(self.conv(x).flatten(1))
    out = self.out(x)
    if self.mapping is None:
      return out[:, 0]
    cmap = self.mapping(None, c)
    return (out * cmap).sum(1) / math.sqrt(cmap.shape[1])


def _median_times(g_step, d_step, steps, warmup):
  for _ in range(warmup):
    g_step()
    d_step()
  g_times, d_times = [], []
  for _ in range(steps):
    start = time.perf_counter()
    g_step()
    middle = time.perf_counter()
    d_step()
    g_times.append(middle - start)
    d_times.append(time.perf_counter() - middle)
  total = [a + b for a, b in zip(g_times, d_times, strict=True)]
  medians = statistics.median(g_times), statistics.median(d_times), statistics.median(total)
  return (*medians, statistics.fmean(total))


def _train_steps(a, g, d, d_eager, c, real):
  """`--step=train`'s G and D halves (see the module docstring); each waits for the device."""
  every = a.r1_every if a.r1_gamma else 0
  lazy = every / (every + 1) if every else 1.0
  opt_g = torch.optim.Adam(g.parameters(), lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
  opt_d = torch.optim.Adam(d.parameters(), lr=0.0025 * lazy, betas=(0.0, 0.99**lazy), eps=1e-8)
  ema = [p.detach().clone() for p in g.parameters()] if a.ema else None
  steps = itertools.count()
  z = lambda: torch.randn(a.batch, a.latent, device=real.device)

  def g_step():
    opt_g.zero_grad(set_to_none=True)
    d.requires_grad_(False)
    loss = F.softplus(-d(g(z(), c), c)).mean()
    loss.backward()
    d.requires_grad_(True)
    opt_g.step()
    return loss.item()

  def d_step():
    opt_d.zero_grad(set_to_none=True)
    with torch.no_grad():
      fake = g(z(), c)
    loss = F.softplus(d(fake, c)).mean() + F.softplus(-d(real, c)).mean()
    loss.backward()
    opt_d.step()
    if every and next(steps) % every == 0:  # eager D: torch.compile has no double backward
      opt_d.zero_grad(set_to_none=True)
      x = real.detach().requires_grad_(True)
      (grad,) = torch.autograd.grad(d_eager(x, c).sum(), x, create_graph=True)
      (grad.square().sum([1, 2, 3]).mean() * (0.5 * a.r1_gamma * every)).backward()
      opt_d.step()
    if ema is not None:
      with torch.no_grad():
        torch._foreach_lerp_(ema, list(g.parameters()), 0.001)  # its cost; beta as it may be
    return loss.item()

  return g_step, d_step


def run_torch(a):
  torch.manual_seed(0)
  dev, autocast = setup(a)
  g, d = Generator(a).to(dev), Discriminator(a).to(dev)
  count = lambda m: sum(p.numel() for p in m.parameters())
  g_params, d_params = count(g), count(d)
  d_eager = d
  g, d = maybe_compile(g, a), maybe_compile(d, a)
  z = torch.randn(a.batch, a.latent, device=dev)
  c = F.one_hot(torch.arange(a.batch) % max(a.num_classes, 1), max(a.num_classes, 1)).float()
  c = c.to(dev) if a.num_classes else None
  r = torch.randn(a.batch, a.channels, a.size, a.size, device=dev)
  real = torch.rand(a.batch, a.channels, a.size, a.size, device=dev) * 2 - 1

  def g_step():
    g.zero_grad(set_to_none=True)
    with autocast:
      loss = (g(z, c).float() * r).mean()
    loss.backward()
    return loss.item()

  def d_step():
    d.zero_grad(set_to_none=True)
    with autocast:
      loss = F.softplus(d(real, c).float()).mean()
    loss.backward()
    return loss.item()

  if a.step == 'train':
    g_step, d_step = _train_steps(a, g, d, d_eager, c, real)
  start = time.perf_counter()
  g_step()
  d_step()
  first = time.perf_counter() - start
  g_s, d_s, step_s, mean_s = _median_times(g_step, d_step, a.steps, a.warmup - 1)
  peak = torch.cuda.max_memory_allocated() if dev.type == 'cuda' else peak_host_bytes()
  extra = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'device': str(dev)}
  extra['compile'] = a.compile or 'eager'
  return g_params, d_params, first, g_s, d_s, step_s, mean_s, int(peak), extra


def run_jax(a):
  # Imported here: the PyTorch side runs in a process without JAX.
  import jax
  import jax.numpy as jnp

  import jaxgan.runtime
  from jaxgan.models import stylegan2
  from jaxgan.state import count_params, init_variables

  jaxgan.runtime.configure()  # the XLA:CPU flags and compilation cache jaxgan's entry points use

  half = dict(dtype=jnp.bfloat16) if a.dtype == 'bfloat16' else {}
  shared = dict(size=a.size, channels=a.channels, num_classes=a.num_classes, **half)
  widths = dict(channel_base=a.channel_base, channel_max=a.channel_max)
  g = stylegan2.Generator(
    z_dim=a.latent, w_dim=a.latent, mapping_layers=a.mapping_layers, modconv=a.modconv,
    **shared, **widths,
  )  # fmt: skip
  d = stylegan2.Discriminator(
    architecture=a.d_architecture,
    mbstd_group=a.mbstd_group,
    mapping_layers=a.mapping_layers,
    **shared,
    **widths,
  )
  key = jax.random.key(0)
  z = jax.random.normal(key, (a.batch, a.latent))
  c = jnp.arange(a.batch) % a.num_classes if a.num_classes else None
  r = jax.random.normal(jax.random.key(1), (a.batch, a.size, a.size, a.channels))
  real = jax.random.uniform(jax.random.key(2), r.shape, minval=-1.0, maxval=1.0)
  g_vars = init_variables(g, jax.random.key(3), [z] if c is None else [z, c])
  d_vars = init_variables(d, jax.random.key(4), [real] if c is None else [real, c])

  @jax.jit
  def g_grad(params, noise_key):
    loss = lambda p: jnp.mean(g.apply({**g_vars, 'params': p}, z, c, rngs={'noise': noise_key}) * r)
    return jax.value_and_grad(loss)(params)

  @jax.jit
  def d_grad(params):
    loss = lambda p: jnp.mean(jax.nn.softplus(d.apply({**d_vars, 'params': p}, real, c)))
    return jax.value_and_grad(loss)(params)

  keys = iter(jax.random.split(jax.random.key(5), 2 * (a.steps + a.warmup) + 2))
  g_step = lambda: jax.block_until_ready(g_grad(g_vars['params'], next(keys)))
  d_step = lambda: jax.block_until_ready(d_grad(d_vars['params']))
  start = time.perf_counter()
  g_step()
  d_step()
  first = time.perf_counter() - start
  g_s, d_s, step_s, mean_s = _median_times(g_step, d_step, a.steps, a.warmup - 1)
  device = jax.devices()[0]
  if device.platform == 'cpu':
    peak = peak_host_bytes()
  else:
    peak = (device.memory_stats() or {}).get('peak_bytes_in_use', 0)
  extra = {'jax': jax.__version__, 'device': str(device)}
  return (
    count_params(g_vars['params']), count_params(d_vars['params']), first, g_s, d_s, step_s,
    mean_s, int(peak), extra,
  )  # fmt: skip


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--impl', default='torch', choices=['torch', 'jax'])
  parser.add_argument('--size', type=int, default=32)
  parser.add_argument('--channels', type=int, default=3)
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--latent', type=int, default=512, help='z_dim = w_dim')
  parser.add_argument('--channel-base', type=int, default=32768)
  parser.add_argument('--channel-max', type=int, default=512)
  parser.add_argument('--mapping-layers', type=int, default=2)
  parser.add_argument('--num-classes', type=int, default=0)
  parser.add_argument('--mbstd-group', type=int, default=4)
  parser.add_argument('--modconv', default='fused', choices=['fused', 'unfused'])
  parser.add_argument('--d-architecture', default='resnet', choices=['resnet', 'orig'])
  parser.add_argument('--step', default='grads', choices=['grads', 'train'])
  parser.add_argument('--r1-every', type=int, default=16, help='--step=train: lazy R1 interval')
  parser.add_argument('--r1-gamma', type=float, default=0.01, help='--step=train: 0 for no R1')
  parser.add_argument('--ema', action='store_true', help="--step=train: update G's EMA")
  parser.add_argument('--steps', type=int, default=5)
  parser.add_argument('--warmup', type=int, default=2)
  add_device_args(parser)
  a = parser.parse_args()
  if a.impl == 'torch' and a.dtype != 'float32':
    parser.error('the PyTorch port runs float32 only (autocast would not clamp like ours)')
  if a.step == 'train' and a.impl != 'torch':
    parser.error('--step=train is the PyTorch side of python -m jaxgan.bench --model=stylegan2')
  if a.r1_every < 1:
    parser.error(f'--r1-every must be at least 1; got {a.r1_every}')
  run = run_torch if a.impl == 'torch' else run_jax
  g_params, d_params, first, g_s, d_s, step_s, mean_s, peak, extra = run(a)
  print(
    json.dumps(
      {
        'impl': a.impl,
        **extra,
        'modconv': a.modconv,
        'd_architecture': a.d_architecture,
        'step': a.step,
        'dtype': a.dtype,
        'size': a.size,
        'channels': a.channels,
        'batch': a.batch,
        'channel_base': a.channel_base,
        'channel_max': a.channel_max,
        'num_classes': a.num_classes,
        'g_params': g_params,
        'd_params': d_params,
        'first_step_s': round(first, 3),
        'g_fwd_bwd_s_median': round(g_s, 5),
        'd_fwd_bwd_s_median': round(d_s, 5),
        'step_s_median': round(step_s, 5),
        'step_s_mean': round(mean_s, 5),
        'img_per_s': float(f'{a.batch / step_s:.4g}'),
        'peak_bytes': peak,
      }
    )
  )


if __name__ == '__main__':
  main()
