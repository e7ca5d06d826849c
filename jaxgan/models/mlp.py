"""Small MLP generator and discriminator for low-dimensional (2-D) toy data."""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array


class Generator(nn.Module):
  """Maps `z [B, latent_dim]` to points `[B, data_dim]` (no output squashing).

  Attributes:
    hidden: widths of the ReLU hidden layers.
    data_dim: output dimension.
    latent_dim: input dimension.
    batchnorm: BatchNorm after each hidden layer (the PacGAN recipe uses it).
    dtype: compute dtype (None: float32); parameters stay float32.
  """

  hidden: Sequence[int] = (128, 128)
  data_dim: int = 2
  latent_dim: int = 2
  batchnorm: bool = False
  dtype: Any = None
  bn_axis_name: str | None = None  # the pmap axis: BatchNorm statistics over the global batch

  @nn.compact
  def __call__(self, z: Array, train: bool = True) -> Array:
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f'MLP generator wants z [B, {self.latent_dim}]; got {z.shape}')
    x = z
    for width in self.hidden:
      x = nn.Dense(width, dtype=self.dtype)(x)
      if self.batchnorm:
        x = nn.BatchNorm(
          use_running_average=not train,
          momentum=0.9,
          epsilon=1e-5,
          axis_name=self.bn_axis_name,
          dtype=self.dtype,
        )(x)
      x = nn.relu(x)
    return nn.Dense(self.data_dim, dtype=self.dtype)(x).astype(jnp.float32)


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
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    def dense(width):
      layer = nn.Dense(width, dtype=self.dtype)
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
