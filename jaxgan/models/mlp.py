"""Small MLP generator and discriminator for low-dimensional (2-D) toy data."""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

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
  """Maps points `[B, data_dim]` to logits `[B]` through LeakyReLU(0.2) layers."""

  hidden: Sequence[int] = (128, 128)
  data_dim: int = 2
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    del train  # no batch-dependent layers
    if x.ndim != 2 or x.shape[-1] != self.data_dim:
      raise ValueError(f'MLP discriminator wants x [B, {self.data_dim}]; got {x.shape}')
    for width in self.hidden:
      x = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(x), 0.2)
    return nn.Dense(1, dtype=self.dtype)(x)[:, 0].astype(jnp.float32)
