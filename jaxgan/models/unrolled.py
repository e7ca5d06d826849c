"""The small DCGAN of the Unrolled GAN paper's Stacked MNIST experiment, as PacGAN's code runs it.

Metz et al. (2017, appendix) trained a DCGAN on Stacked MNIST with a
discriminator deliberately weaker than the generator, so that a plain GAN
misses most of the 1,000 modes; PacGAN (Lin et al. 2018, Table 3) reran it with
packing. From the authors' code (fjxmlzn/PacGAN `unrolled_GAN_experiment/`,
TensorFlow, 'SAME' padding):

- G: z in R^256 -> Dense 4 * 4 * 64, BatchNorm, ReLU; three 3x3 stride-2
  transposed convolutions to 7x7x32, 14x14x16, 28x28x8, each with BatchNorm
  and ReLU; a 3x3 convolution to the channels, tanh.
- D: three 3x3 stride-2 convolutions (28 -> 14 -> 7 -> 4) of `d_widths` filters
  ((2, 4, 8) for "D a quarter of G", (4, 8, 16) for a half), each with
  BatchNorm (the first layer too) and LeakyReLU 0.3; Dense to one logit.
- Weights N(0, 0.02), biases 0; BatchNorm momentum 0.9, epsilon 1e-5.
- Packing: G runs once per pack slot (so each slot's samples are normalised on
  their own: `g_bn_groups = pack`), D sees the m images stacked on channels.

TensorFlow's 'SAME' transposed convolution to an explicit output size is the
full transposed convolution cropped (`same_conv_transpose`).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array

G_SIZES = (7, 14, 28)


class SlotBatchNorm(nn.Module):
  """BatchNorm over batch, height and width, with statistics per pack slot.

  Training mode normalises each of `groups` interleaved groups of the batch
  (example i in group `i % groups`, the slot `layers.pack` gives it) by its own
  mean and variance; the running averages move towards the groups' average by
  `1 - momentum`. `groups=1` is `nn.BatchNorm` (without its axis_name).
  """

  groups: int = 1
  momentum: float = 0.9
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    features = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (features,), jnp.float32)
    ra_var = self.variable('batch_stats', 'var', jnp.ones, (features,), jnp.float32)
    x = x.astype(jnp.float32)
    if not train:
      return (x - ra_mean.value) * jax.lax.rsqrt(ra_var.value + self.epsilon) * scale + bias
    groups = self.groups if x.shape[0] % self.groups == 0 else 1  # init runs on one example
    if groups != self.groups and not self.is_initializing():
      raise ValueError(f'a batch of {x.shape[0]} does not split into {self.groups} slots')
    y = x.reshape(x.shape[0] // groups, groups, *x.shape[1:])
    axes = (0, *range(2, y.ndim - 1))
    mean = y.mean(axis=axes, keepdims=True)
    var = jnp.square(y - mean).mean(axis=axes, keepdims=True)
    out = ((y - mean) * jax.lax.rsqrt(var + self.epsilon)).reshape(x.shape)
    if not self.is_initializing():
      m = self.momentum
      ra_mean.value = m * ra_mean.value + (1 - m) * mean.reshape(groups, features).mean(0)
      ra_var.value = m * ra_var.value + (1 - m) * var.reshape(groups, features).mean(0)
    return out * scale + bias


def _init():
  return nn.initializers.normal(0.02)


def same_conv_transpose(x: Array, kernel: Array, size: int, impl: str = 'fast') -> Array:
  """TensorFlow's `conv2d_transpose(x, ..., [B, size, size, O], strides=2, padding='SAME')`.

  The full stride-2 transposed convolution (`kernel` `[k, k, I, O]` in scatter
  form, `layers.conv_transpose`), with `pad_total // 2` cropped in front and
  the rest behind, `pad_total = 2 (H - 1) + k - size`: TensorFlow defines it as
  the gradient of the 'SAME' convolution from `size` to `H`, which pads so.
  """
  full = layers.conv_transpose(x, kernel, stride=2, padding=0, impl=impl)
  start = (full.shape[1] - size) // 2
  return full[:, start : start + size, start : start + size]


class SameConvTranspose(layers.ConvTranspose):
  """`layers.ConvTranspose` (stride 2, no padding) cropped as `same_conv_transpose` to `size`."""

  size: int = 0

  def _op(self, x: Array, kernel: Array) -> Array:
    return same_conv_transpose(x, kernel, self.size, self.impl)


class Generator(nn.Module):
  """Maps `z [B, latent_dim]` to `[B, 28, 28, channels]` images in [-1, 1]."""

  channels: int = 3
  latent_dim: int = 256
  widths: tuple[int, ...] = (64, 32, 16, 8)
  bn_groups: int = 1
  conv_impl: str = 'fast'
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, z: Array, cond: Array | None = None, train: bool = True) -> Array:
    if cond is not None:
      raise ValueError('the unrolled-GAN generator is unconditional')
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f'Generator wants z [B, {self.latent_dim}]; got {z.shape}')

    def norm(h, i):  # the same variables either way: bn{i}/{scale, bias, mean, var}
      if self.bn_groups > 1:
        return nn.relu(SlotBatchNorm(self.bn_groups, name=f'bn{i}')(h, train))
      bn = nn.BatchNorm(
        not train, momentum=0.9, epsilon=1e-5, axis_name=self.bn_axis_name, name=f'bn{i}'
      )
      return nn.relu(bn(h))

    x = nn.Dense(4 * 4 * self.widths[0], kernel_init=_init())(z)
    x = norm(x.reshape(-1, 4, 4, self.widths[0]), 0)
    for i, (features, size) in enumerate(zip(self.widths[1:], G_SIZES, strict=True)):
      up = SameConvTranspose(features, 3, 2, impl=self.conv_impl, kernel_init=_init(), size=size)
      x = norm(up(x), i + 1)
    x = layers.Conv(self.channels, 3, 1, 1, impl=self.conv_impl, kernel_init=_init())(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """Maps `[B, 28, 28, channels]` images (B a multiple of `pack`) to logits `[B / pack]`."""

  channels: int = 3
  widths: tuple[int, ...] = (2, 4, 8)
  pack: int = 1
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: Array, cond: Array | None = None, train: bool = True) -> Array:
    if cond is not None:
      raise ValueError('the unrolled-GAN discriminator is unconditional')
    if x.ndim != 4 or x.shape[1:] != (28, 28, self.channels):
      raise ValueError(f'Discriminator wants images [B, 28, 28, {self.channels}]; got {x.shape}')
    x = layers.pack(x, self.pack)
    for features in self.widths:
      x = nn.Conv(features, (3, 3), (2, 2), 'SAME', kernel_init=_init())(x)
      x = nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=self.bn_axis_name
      )(x)
      x = nn.leaky_relu(x, 0.3)
    return nn.Dense(1, kernel_init=_init())(x.reshape(x.shape[0], -1)).reshape(-1)


def create(
  *,
  size: int = 28,
  channels: int = 3,
  latent_dim: int = 256,
  g_widths=(64, 32, 16, 8),
  d_widths=(2, 4, 8),
  pack: int = 1,
  g_bn_groups: int = 1,
  dtype: Any = None,
  bn_axis_name: str | None = None,
) -> tuple[nn.Module, nn.Module]:
  """The (G, D) pair; float32 only (`dtype` must be None or float32)."""
  if size != 28:
    raise ValueError(f"config.model.name='unrolled' makes 28x28 images; got size {size}")
  if len(tuple(g_widths)) != 4:
    raise ValueError(f'config.model.g_widths takes 4 widths (dense, 7, 14, 28); got {g_widths}')
  if dtype not in (None, jnp.float32):
    raise ValueError(
      "config.model.name='unrolled' runs in float32: set config.train.half_precision=False"
    )
  if g_bn_groups > 1 and bn_axis_name:
    raise ValueError("config.model.g_bn_groups > 1 does not train under config.parallel='pmap'")
  g = Generator(
    channels=channels,
    latent_dim=latent_dim,
    widths=tuple(g_widths),
    bn_groups=g_bn_groups,
    bn_axis_name=bn_axis_name,
  )
  d = Discriminator(channels=channels, widths=tuple(d_widths), pack=pack, bn_axis_name=bn_axis_name)
  return g, d
