"""DCGAN generator and discriminator (Radford et al., 2016), any size from 16 to 128.

Guidelines followed: strided convolutions in D and transposed convolutions in
G (no pooling, no hidden dense layers); BatchNorm in both except on G's output
and D's input layer; ReLU and a Tanh output in G; LeakyReLU(0.2) in D; weights
N(0, 0.02), BatchNorm scales N(1, 0.02). With `size=64, width=64, latent_dim=100`
the parameter counts equal the PyTorch reference (tests pin them).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array

MIN_SIZE, MAX_SIZE = 16, 128
NORMS = ('batch', 'spectral', 'none')


def _normal_scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def base_and_levels(size: int) -> tuple[int, int]:
  """Splits an image size into `base * 2**levels` with `4 <= base < 8`.

  64 -> (4, 4), 32 -> (4, 3), 28 -> (7, 2), 48 -> (6, 3).

  Raises:
    ValueError: if `size` is outside [16, 128] or has no such split.
  """
  if not MIN_SIZE <= size <= MAX_SIZE:
    raise ValueError(f'DCGAN image size must be in [{MIN_SIZE}, {MAX_SIZE}]; got {size}')
  base, levels = size, 0
  while base >= 8 and base % 2 == 0:
    base, levels = base // 2, levels + 1
  if base >= 8:
    raise ValueError(
      f'DCGAN image size {size} is not base * 2**n with 4 <= base < 8 '
      '(try 16, 28, 32, 48, 64, 96 or 128)'
    )
  return base, levels


class Generator(nn.Module):
  """Maps `z [B, latent_dim]` to images `[B, size, size, channels]` in [-1, 1].

  A transposed convolution grows 1x1 to `base x base` (4 for powers of two,
  7 for 28), then each `ConvTranspose(4, 2, 1)` doubles the size while halving
  the width, down to `width` channels before the output layer.
  """

  size: int = 64
  channels: int = 3
  width: int = 64
  latent_dim: int = 100
  num_classes: int = 0  # > 0: conditioned on class ids [B] (a learned embedding joins z)
  cond_dim: int = 0  # > 0: conditioned on vectors [B, cond_dim] (e.g. text or attributes)
  conv_impl: str = 'fast'
  dtype: Any = None
  bn_axis_name: str | None = None  # the pmap axis: BatchNorm statistics over the global batch

  @nn.compact
  def __call__(self, z: Array, cond: Array | None = None, train: bool = True) -> Array:
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f'Generator wants z [B, {self.latent_dim}]; got {z.shape}')
    embedding = condition_embedding(self, cond, self.latent_dim, 'Generator')
    if embedding is not None:
      z = jnp.concatenate([z, embedding.astype(z.dtype)], axis=-1)
    base, levels = base_and_levels(self.size)
    conv_t = lambda f, k, s, p: layers.ConvTranspose(
      f,
      k,
      s,
      p,
      use_bias=False,
      impl=self.conv_impl,
      dtype=self.dtype,
      kernel_init=nn.initializers.normal(0.02),
    )
    norm = lambda: nn.BatchNorm(
      axis_name=self.bn_axis_name,
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      scale_init=_normal_scale_init,
      dtype=self.dtype,
    )
    features = self.width * 2 ** (levels - 1)
    x = z.reshape(z.shape[0], 1, 1, z.shape[-1])
    x = nn.relu(norm()(conv_t(features, base, 1, 0)(x)))
    for _ in range(levels - 1):
      features //= 2
      x = nn.relu(norm()(conv_t(features, 4, 2, 1)(x)))
    x = conv_t(self.channels, 4, 2, 1)(x)
    return jnp.tanh(x.astype(jnp.float32))


def condition_embedding(module: nn.Module, cond, features: int, who: str):
  """`cond` as `[B, features]`: an embedding of class ids or a projection of vectors; None if
  the module is unconditional. Raises ValueError for a missing or mis-shaped condition."""
  if not (module.num_classes or module.cond_dim):
    if cond is not None:
      raise ValueError(f'{who} is unconditional (num_classes = cond_dim = 0) but got a condition')
    return None
  if cond is None:
    raise ValueError(f'a conditional {who} needs a condition (class ids or vectors) per example')
  if module.num_classes:
    if cond.ndim != 1 or jnp.issubdtype(cond.dtype, jnp.floating):
      raise ValueError(f'{who} wants class ids [B] (int); got {cond.dtype} {cond.shape}')
    return nn.Embed(module.num_classes, features, name='class_embedding')(cond)
  if cond.ndim != 2 or cond.shape[-1] != module.cond_dim:
    raise ValueError(f'{who} wants condition vectors [B, {module.cond_dim}]; got {cond.shape}')
  return nn.Dense(features, name='condition_projection')(cond.astype(jnp.float32))


class Discriminator(nn.Module):
  """Maps images `[B, size, size, channels]` to logits `[B]`.

  Each `Conv(4, 2, 1)` halves the size and doubles the width (from `width`)
  down to `base x base`; a `base x base` VALID convolution gives one logit.
  With `pack=m` (PacGAN) D judges m consecutive images stacked on the channel
  axis and returns `[B / m]` logits; `mbstd_group > 0` appends a minibatch
  standard deviation channel before the last convolution. `norm`: 'batch'
  (the DCGAN reference), 'spectral' (Miyato et al. 2018: every convolution's
  kernel divided by its largest singular value, estimated by one power
  iteration per call whose vector lives in the `batch_stats` collection; no
  BatchNorm, convolutions with biases) or 'none'.

  Conditional (`num_classes` or `cond_dim` > 0): `cond_mode='projection'`
  (Miyato & Koyama 2018) adds `<embed(cond), h>` to the logit, `h` the last
  feature map summed over space; `'acgan'` (Odena et al. 2017) returns
  `(logits, class_logits)`, a classifier head on `h` beside the adversarial one
  (the condition it is given is not an input there: the head predicts it).
  """

  size: int = 64
  channels: int = 3
  width: int = 64
  pack: int = 1
  mbstd_group: int = 0
  norm: str = 'batch'
  num_classes: int = 0
  cond_dim: int = 0
  cond_mode: str = 'projection'
  conv_impl: str = 'fast'
  dtype: Any = None
  bn_axis_name: str | None = None  # the pmap axis: BatchNorm statistics over the global batch

  @nn.compact
  def __call__(self, x: Array, cond: Array | None = None, train: bool = True):
    expected = (self.size, self.size, self.channels)
    if x.ndim != 4 or x.shape[1:] != expected:
      raise ValueError(
        f'Discriminator wants images [B, {self.size}, {self.size}, {self.channels}]; got {x.shape}'
      )
    if self.norm not in NORMS:
      raise ValueError(f'unknown discriminator norm {self.norm!r}; known: {", ".join(NORMS)}')
    base, levels = base_and_levels(self.size)
    x = layers.pack(x, self.pack)

    def conv(f, k, s, p):
      layer = layers.Conv(
        f,
        k,
        s,
        p,
        use_bias=self.norm != 'batch',
        impl=self.conv_impl,
        dtype=self.dtype,
        kernel_init=nn.initializers.normal(0.02),
      )
      return layers.spectral(layer, train) if self.norm == 'spectral' else layer

    features = self.width
    x = nn.leaky_relu(conv(features, 4, 2, 1)(x), 0.2)
    for _ in range(levels - 1):
      features *= 2
      x = conv(features, 4, 2, 1)(x)
      if self.norm == 'batch':
        x = nn.BatchNorm(
          axis_name=self.bn_axis_name,
          use_running_average=not train,
          momentum=0.9,
          epsilon=1e-5,
          scale_init=_normal_scale_init,
          dtype=self.dtype,
        )(x)
      x = nn.leaky_relu(x, 0.2)
    h = jnp.sum(x.astype(jnp.float32), axis=(1, 2))  # [B, features]
    if self.mbstd_group:
      x = layers.minibatch_stddev(x, self.mbstd_group)
    logits = conv(1, base, 1, 0)(x).reshape(x.shape[0]).astype(jnp.float32)
    if self.cond_mode == 'acgan':
      if not self.num_classes:
        raise ValueError("cond_mode='acgan' needs class ids (num_classes > 0)")
      return logits, nn.Dense(self.num_classes, name='class_head')(h)
    embedding = condition_embedding(self, cond, h.shape[-1], 'Discriminator')
    if embedding is not None:
      logits = logits + jnp.sum(embedding.astype(jnp.float32) * h, axis=-1)
    return logits


class AutoencoderDiscriminator(nn.Module):
  """BEGAN's discriminator (Berthelot et al., 2017): an auto-encoder whose output is the
  per-example L1 reconstruction error `|x - dec(enc(x))|` `[B]` (float32).

  DCGAN-shaped, so that it costs about what the DCGAN pair costs: the encoder
  is the DCGAN D's stack of `Conv(4, 2, 1)` (widths `width, 2 width, ...`, ELU)
  down to `base x base`, flattened to an `embed_dim` code; the decoder a dense
  layer back to `base x base` and the DCGAN G's `ConvTranspose(4, 2, 1)` stack
  (ELU) to a linear image. The paper's own blocks (3x3 convolutions at every
  resolution, nearest-neighbour upsampling) cost ~20x more at width 32 on
  32x32 images. No normalisation by default (the paper's), or spectral
  normalisation of every layer (`norm`). `reconstruct=True` returns the
  reconstructions instead of the errors.
  """

  size: int = 64
  channels: int = 3
  width: int = 64
  embed_dim: int = 64
  norm: str = 'none'
  conv_impl: str = 'fast'
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, cond: Array | None = None, train: bool = True, *, reconstruct=False):
    expected = (self.size, self.size, self.channels)
    if x.ndim != 4 or x.shape[1:] != expected:
      raise ValueError(
        f'AutoencoderDiscriminator wants images [B, {self.size}, {self.size}, {self.channels}]; '
        f'got {x.shape}'
      )
    if cond is not None:
      raise ValueError('the auto-encoder discriminator is unconditional; got a condition')
    if self.norm not in ('none', 'spectral'):
      raise ValueError(
        f"the auto-encoder discriminator takes d_norm 'none' or 'spectral'; got {self.norm!r}"
      )
    base, levels = base_and_levels(self.size)
    init = nn.initializers.normal(0.02)
    common = dict(impl=self.conv_impl, dtype=self.dtype, kernel_init=init)

    def layer(module):
      return layers.spectral(module, train) if self.norm == 'spectral' else module

    h = x
    features = self.width
    for i in range(levels):
      h = nn.elu(layer(layers.Conv(features * 2**i, 4, 2, 1, **common))(h))
    code = layer(nn.Dense(self.embed_dim, dtype=self.dtype, kernel_init=init))(
      h.reshape(h.shape[0], -1)
    )
    features = self.width * 2 ** (levels - 1)
    h = layer(nn.Dense(base * base * features, dtype=self.dtype, kernel_init=init))(code)
    h = nn.elu(h.reshape(-1, base, base, features))
    for _ in range(levels - 1):
      features //= 2
      h = nn.elu(layer(layers.ConvTranspose(features, 4, 2, 1, **common))(h))
    out = layer(layers.ConvTranspose(self.channels, 4, 2, 1, **common))(h).astype(jnp.float32)
    if reconstruct:
      return out
    return jnp.mean(jnp.abs(out - x.astype(jnp.float32)).reshape(x.shape[0], -1), axis=-1)
