"""Small MLP generator and discriminator for low-dimensional (2-D) toy data."""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array


def _kernel_init(std: float):
  """N(0, std^2) weights (PacGAN's code: 0.02); std 0: Flax's default (LeCun normal)."""
  return nn.initializers.normal(std) if std else nn.initializers.lecun_normal()


class SlotBatchNorm(nn.Module):
  """BatchNorm as PacGAN's code has it (Theano/Blocks), with statistics per pack slot.

  Training mode normalises by the mean and `sqrt(var + epsilon)` of each of
  `groups` interleaved groups of the batch (example i in group `i % groups`):
  PacGAN's G runs once per pack slot, on a batch of its own, and `layers.pack`
  puts slot j of every pack at `i % pack == j`. The running mean and standard
  deviation (Blocks keeps the deviation, not the variance) move towards the
  groups' average by `1 - momentum` per call. Inference mode uses them.

  Attributes:
    groups: interleaved groups normalised separately (1: the whole batch).
    momentum: of the running statistics (PacGAN's code: 0.95).
    epsilon: added to the variance (Blocks' default 1e-4).
    dtype: compute dtype (None: float32).
  """

  groups: int = 1
  momentum: float = 0.95
  epsilon: float = 1e-4
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    features = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (features,), jnp.float32)
    ra_std = self.variable('batch_stats', 'std', jnp.ones, (features,), jnp.float32)
    x32 = x.astype(jnp.float32)
    if train:
      if x.shape[0] % self.groups:
        raise ValueError(
          f'a batch of {x.shape[0]} does not split into {self.groups} BatchNorm groups'
        )
      y = x32.reshape(x.shape[0] // self.groups, self.groups, features)
      mean = y.mean(axis=0)
      std = jnp.sqrt(jnp.square(y - mean).mean(axis=0) + self.epsilon)
      out = ((y - mean) / std).reshape(x.shape)
      if not self.is_initializing():
        m = self.momentum
        ra_mean.value = m * ra_mean.value + (1 - m) * mean.mean(axis=0)
        ra_std.value = m * ra_std.value + (1 - m) * std.mean(axis=0)
    else:
      out = (x32 - ra_mean.value) / ra_std.value
    return (out * scale + bias).astype(self.dtype or jnp.float32)


class Generator(nn.Module):
  """Maps `z [B, latent_dim]` to points `[B, data_dim]` (no output squashing).

  Attributes:
    hidden: widths of the ReLU hidden layers.
    data_dim: output dimension.
    latent_dim: input dimension.
    batchnorm: BatchNorm after each hidden layer (the PacGAN recipe uses it).
    bn_groups: 0: Flax's BatchNorm over the whole batch (momentum 0.9, epsilon
      1e-5); k >= 1: `SlotBatchNorm` (PacGAN's code's) with statistics per
      each of k interleaved groups (k = pack: one per pack slot).
    init_std: weights N(0, init_std^2) (PacGAN's code: 0.02); 0: Flax's default.
    dtype: compute dtype (None: float32); parameters stay float32.
  """

  hidden: Sequence[int] = (128, 128)
  data_dim: int = 2
  latent_dim: int = 2
  batchnorm: bool = False
  bn_groups: int = 0
  init_std: float = 0.0
  dtype: Any = None
  bn_axis_name: str | None = None  # the pmap axis: BatchNorm statistics over the global batch

  @nn.compact
  def __call__(self, z: Array, train: bool = True) -> Array:
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f'MLP generator wants z [B, {self.latent_dim}]; got {z.shape}')
    dense = lambda width: nn.Dense(width, dtype=self.dtype, kernel_init=_kernel_init(self.init_std))
    x = z
    for width in self.hidden:
      x = dense(width)(x)
      if self.batchnorm and self.bn_groups:
        x = SlotBatchNorm(groups=self.bn_groups, dtype=self.dtype)(x, train)
      elif self.batchnorm:
        x = nn.BatchNorm(
          use_running_average=not train,
          momentum=0.9,
          epsilon=1e-5,
          axis_name=self.bn_axis_name,
          dtype=self.dtype,
        )(x)
      x = nn.relu(x)
    return dense(self.data_dim)(x).astype(jnp.float32)


class Discriminator(nn.Module):
  """Maps points `[B, data_dim]` to logits `[B / pack]`.

  Attributes:
    hidden: widths of the hidden layers.
    data_dim: input dimension.
    pack: PacGAN packing: D judges `pack` consecutive examples jointly (the
      batch must divide by it); 1: one logit per example.
    maxout: pieces of each maxout unit (PacGAN's toy D uses 5); 0: LeakyReLU(0.2).
    mbstd_group: minibatch standard deviation over groups of this size,
      appended before the last hidden layer; 0: off.
    fourier_features: D's input extended to `[x, sin(Wx), cos(Wx)]` with this many
      rows of a trainable `W ~ N(0, fourier_scale^2)` (Tancik et al. 2020: an
      MLP on raw low-dimensional coordinates learns fine detail slowly); 0: raw input.
    spectral_norm: spectrally normalised dense layers (not the Fourier projection).
    init_std: weights of the dense layers N(0, init_std^2) (PacGAN's code: 0.02);
      0: Flax's default.
    dtype: compute dtype (None: float32).
  """

  hidden: Sequence[int] = (128, 128)
  data_dim: int = 2
  pack: int = 1
  maxout: int = 0
  mbstd_group: int = 0
  fourier_features: int = 0
  fourier_scale: float = 1.0
  spectral_norm: bool = False
  init_std: float = 0.0
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    def dense(width):
      layer = nn.Dense(width, dtype=self.dtype, kernel_init=_kernel_init(self.init_std))
      return layers.spectral(layer, train) if self.spectral_norm else layer

    if x.ndim != 2 or x.shape[-1] != self.data_dim:
      raise ValueError(f'MLP discriminator wants x [B, {self.data_dim}]; got {x.shape}')
    if self.fourier_features:
      proj = nn.Dense(
        self.fourier_features,
        use_bias=False,
        kernel_init=nn.initializers.normal(self.fourier_scale),
        dtype=self.dtype,
        name='fourier',
      )(x)
      x = jnp.concatenate([x, jnp.sin(proj), jnp.cos(proj)], axis=-1)
    x = layers.pack(x, self.pack)
    for i, width in enumerate(self.hidden):
      if self.mbstd_group and i == len(self.hidden) - 1:
        x = layers.minibatch_stddev(x, self.mbstd_group)
      if self.maxout:
        x = dense(width * self.maxout)(x)
        x = jnp.max(x.reshape(*x.shape[:-1], width, self.maxout), axis=-1)
      else:
        x = nn.leaky_relu(dense(width)(x), 0.2)
    return dense(1)(x)[:, 0].astype(jnp.float32)
