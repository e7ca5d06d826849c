"""CycleGAN and pix2pix networks (Zhu et al. 2017; Isola et al. 2017), reference layouts.

- `ResnetGenerator`: 7x7 stem, two stride-2 downsamplings, `num_blocks`
  residual blocks, two upsamplings, 7x7 output with Tanh; reflect padding,
  instance norm (no affine parameters, as the reference), biases on.
- `PatchDiscriminator`: the 70x70 PatchGAN (`num_layers=3`): one logit per
  overlapping patch, LeakyReLU(0.2), instance norm (batch norm for pix2pix).
- `UnetGenerator`: pix2pix's U-Net (8 downsamplings at 256x256), skip connections,
  batch norm, dropout as noise in the three innermost decoder blocks.
- `CycleGenerators` / `CycleDiscriminators`: players that own two networks
  (G's params are `{'g_ab', 'g_ba'}`, D's `{'d_a', 'd_b'}`), called with
  `method='ab'` / `'ba'` / `'judge_a'` / `'judge_b'`.

Each network takes `dtype` (None: float32): the compute dtype, e.g. bfloat16;
parameters stay float32 and outputs are float32.

At reference sizes the parameter counts equal a PyTorch build of the same
layers (tests pin them): ResNet-9 11,378,179; ResNet-6 7,837,699; PatchGAN
2,764,737; U-Net-256 54,413,955.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array
_INIT = nn.initializers.normal(0.02)  # the reference's init_type='normal', gain 0.02


def _reflect(x: Array, pad: int) -> Array:
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


def _instance_norm(x: Array, dtype: Any = None) -> Array:
  return nn.InstanceNorm(use_scale=False, use_bias=False, epsilon=1e-5, dtype=dtype)(x)


class ResnetGenerator(nn.Module):
  """Maps `[B, H, W, channels_in]` to `[B, H, W, channels_out]` in [-1, 1] (H divisible by 4)."""

  features: int = 64
  num_blocks: int = 9
  channels_out: int = 3
  conv_impl: str = 'fast'
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    del train  # instance norm has no running statistics; no dropout
    if x.ndim != 4 or x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(
        f'ResnetGenerator wants [B, H, W, C] with H, W divisible by 4; got {x.shape}'
      )
    conv = lambda f, k, s=1, p=0: layers.Conv(
      f, k, s, p, impl=self.conv_impl, dtype=self.dtype, kernel_init=_INIT
    )
    norm = lambda x: _instance_norm(x, self.dtype)
    f = self.features
    x = nn.relu(norm(conv(f, 7)(_reflect(x, 3))))
    for mult in (1, 2):
      x = nn.relu(norm(conv(f * mult * 2, 3, 2, 1)(x)))
    for _ in range(self.num_blocks):
      y = nn.relu(norm(conv(f * 4, 3)(_reflect(x, 1))))
      x = x + norm(conv(f * 4, 3)(_reflect(y, 1)))
    for mult in (4, 2):
      x = layers.ConvTranspose(
        f * mult // 2,
        3,
        2,
        1,
        output_padding=1,
        impl=self.conv_impl,
        dtype=self.dtype,
        kernel_init=_INIT,
      )(x)
      x = nn.relu(norm(x))
    return jnp.tanh(conv(self.channels_out, 7)(_reflect(x, 3))).astype(jnp.float32)


class PatchDiscriminator(nn.Module):
  """Maps `[B, H, W, C]` to patch logits `[B, h, w]` (30x30 at 256x256 with 3 layers)."""

  features: int = 64
  num_layers: int = 3
  norm: str = 'instance'  # 'instance' (CycleGAN) or 'batch' (pix2pix)
  conv_impl: str = 'fast'
  dtype: Any = None
  bn_axis_name: str | None = None  # pmap's device axis: batch statistics over all devices

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    if self.norm not in ('instance', 'batch'):
      raise ValueError(f"PatchDiscriminator norm must be 'instance' or 'batch'; got {self.norm!r}")
    use_bias = self.norm == 'instance'  # as the reference: no bias before batch norm

    def norm(x: Array) -> Array:
      if self.norm == 'instance':
        return _instance_norm(x, self.dtype)
      return nn.BatchNorm(
        use_running_average=not train,
        momentum=0.9,
        epsilon=1e-5,
        dtype=self.dtype,
        axis_name=self.bn_axis_name if train else None,
      )(x)

    conv = lambda f, s, bias=True: layers.Conv(
      f, 4, s, 1, use_bias=bias, impl=self.conv_impl, dtype=self.dtype, kernel_init=_INIT
    )
    x = nn.leaky_relu(conv(self.features, 2)(x), 0.2)
    for n in range(1, self.num_layers + 1):
      stride = 2 if n < self.num_layers else 1
      x = conv(self.features * min(2**n, 8), stride, use_bias)(x)
      x = nn.leaky_relu(norm(x), 0.2)
    return conv(1, 1)(x)[..., 0].astype(jnp.float32)


class UnetGenerator(nn.Module):
  """pix2pix's U-Net: `num_downs` stride-2 encoder blocks mirrored by a decoder with skips."""

  features: int = 64
  num_downs: int = 8
  channels_out: int = 3
  dropout: float = 0.5
  conv_impl: str = 'fast'
  dtype: Any = None
  bn_axis_name: str | None = None  # pmap's device axis: batch statistics over all devices

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    if x.ndim != 4 or x.shape[1] % 2**self.num_downs or x.shape[2] % 2**self.num_downs:
      raise ValueError(
        f'UnetGenerator wants [B, H, W, C] with H, W divisible by '
        f'{2**self.num_downs}; got {x.shape}'
      )
    f = self.features
    widths = [min(f * 2**i, f * 8) for i in range(self.num_downs)]  # 64 128 256 512 512 ...
    bn = lambda: nn.BatchNorm(
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      dtype=self.dtype,
      axis_name=self.bn_axis_name if train else None,
    )
    down = lambda w: layers.Conv(
      w, 4, 2, 1, use_bias=False, impl=self.conv_impl, dtype=self.dtype, kernel_init=_INIT
    )
    skips = []
    for i, w in enumerate(widths):
      if i:
        x = nn.leaky_relu(x, 0.2)
      x = down(w)(x)
      if 0 < i < self.num_downs - 1:
        x = bn()(x)
      skips.append(x)
    for i in reversed(range(self.num_downs)):
      outer = widths[i - 1] if i else self.channels_out
      if i < self.num_downs - 1:
        x = jnp.concatenate([skips[i], x], axis=-1)
      x = layers.ConvTranspose(
        outer, 4, 2, 1, use_bias=i == 0, impl=self.conv_impl, dtype=self.dtype, kernel_init=_INIT
      )(nn.relu(x))
      if i:
        x = bn()(x)
        if self.num_downs - 4 <= i < self.num_downs - 1 and self.dropout:
          x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return jnp.tanh(x).astype(jnp.float32)


class CycleGenerators(nn.Module):
  """CycleGAN's G player: `g_ab` maps domain A to B, `g_ba` maps B to A."""

  g_ab: nn.Module
  g_ba: nn.Module

  def __call__(self, a: Array, b: Array, train: bool = True) -> tuple[Array, Array]:
    return self.g_ab(a, train=train), self.g_ba(b, train=train)

  def ab(self, a: Array, train: bool = True) -> Array:
    return self.g_ab(a, train=train)

  def ba(self, b: Array, train: bool = True) -> Array:
    return self.g_ba(b, train=train)


class CycleDiscriminators(nn.Module):
  """CycleGAN's D player: `d_a` judges domain A, `d_b` judges domain B."""

  d_a: nn.Module
  d_b: nn.Module

  def __call__(self, a: Array, b: Array, train: bool = True) -> tuple[Array, Array]:
    return self.d_a(a, train=train), self.d_b(b, train=train)

  def judge_a(self, a: Array, train: bool = True) -> Array:
    return self.d_a(a, train=train)

  def judge_b(self, b: Array, train: bool = True) -> Array:
    return self.d_b(b, train=train)
