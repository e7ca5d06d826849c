"""BigGAN generator and discriminator (Brock et al., 2019) for 32, 64, 128 and 256 pixels.

G: a shared class embedding (`shared_dim`) and hierarchical latents: z is
split into `blocks + 1` equal chunks, the first to a linear layer that makes a
4x4 map, one per residual up-block, whose conditional BatchNorms are fed
`concat[embedding, chunk]`. Up-block: BN-ReLU-upsample-conv3-BN-ReLU-conv3
plus a 1x1-convolved, upsampled skip. Output: BN-ReLU-conv3-tanh.
D: residual down-blocks (the first "optimized", without the leading ReLU;
average pooling), ReLU, global sum pooling, a linear head plus the projection
`<embed(class), h>` (Miyato & Koyama 2018). Spectral norm on every weight of
G and D except G's shared embedding; self-attention (gated, starting at 0)
after the block that outputs `attention_res` pixels; orthogonal init.

Channels are `width` times the multipliers of StudioGAN's `big_resnet`
(the source of the CIFAR-10 figures in the reference notes), `G_CHANNELS` and
`D_CHANNELS` below. They equal BigGAN-PyTorch's tables at 128 and 256; at 32
its D is twice as wide ([4, 4, 4, 4]) and at 64 its G is ([16, 16, 8, 4] ->
[16, 8, 4, 2]).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers
from jaxgan.conditional import ORTHOGONAL, ConditionalBatchNorm, SelfAttention

Array = jax.Array

SIZES = (32, 64, 128, 256)
BOTTOM = 4  # G's first feature map is 4x4 at every size
# size -> (input multipliers, output multipliers) of G's up-blocks; each doubles the resolution.
G_CHANNELS = {
  32: ((4, 4, 4), (4, 4, 4)),
  64: ((16, 8, 4, 2), (8, 4, 2, 1)),
  128: ((16, 16, 8, 4, 2), (16, 8, 4, 2, 1)),
  256: ((16, 16, 8, 8, 4, 2), (16, 8, 8, 4, 2, 1)),
}
# size -> (output multipliers, downsample?) of D's blocks (the input of block i is block i-1's).
D_CHANNELS = {
  32: ((2, 2, 2, 2), (True, True, False, False)),
  64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
  128: ((1, 2, 4, 8, 16, 16), (True,) * 5 + (False,)),
  256: ((1, 2, 4, 8, 8, 16, 16), (True,) * 6 + (False,)),
}


def _check_size(size: int) -> None:
  if size not in SIZES:
    raise ValueError(f'BigGAN image size must be one of {SIZES}; got {size}')


def g_resolutions(size: int) -> tuple[int, ...]:
  """Output resolutions of G's blocks: where G's attention can go."""
  _check_size(size)
  return tuple(BOTTOM * 2 ** (i + 1) for i in range(len(G_CHANNELS[size][1])))


def d_resolutions(size: int) -> tuple[int, ...]:
  """Output resolutions of D's blocks: where D's attention can go (after the first such block)."""
  _check_size(size)
  res, out = size, []
  for down in D_CHANNELS[size][1]:
    res //= 2 if down else 1
    out.append(res)
  return tuple(out)


def _check_attention(attention_res: int, resolutions: tuple[int, ...], who: str) -> None:
  if attention_res and attention_res not in resolutions:
    raise ValueError(
      f'BigGAN {who} has no block with {attention_res}x{attention_res} outputs for attention; '
      f'choose one of {sorted(set(resolutions))} or 0 (none)'
    )


def _conv(features, kernel, *, train, impl, dtype, name=None):
  """A spectrally normalised stride-1 'same' convolution, orthogonally initialised."""
  layer = layers.Conv(
    features, kernel, 1, kernel // 2, impl=impl, dtype=dtype, kernel_init=ORTHOGONAL, name=name
  )
  return layers.spectral(layer, train)


def _upsample(x: Array) -> Array:
  """2x nearest-neighbour upsampling of `[B, H, W, C]`."""
  b, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


def _avg_pool(x: Array) -> Array:
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class GBlock(nn.Module):
  """BigGAN's up-block: `conv3(relu(cbn(conv3(up(relu(cbn(x, y)))), y))) + conv1(up(x))`."""

  features: int
  conv_impl: str = 'xla'
  dtype: Any = None
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: Array, cond: Array, train: bool = True) -> Array:
    cbn = lambda name: ConditionalBatchNorm(
      spectral_norm=True, axis_name=self.bn_axis_name, dtype=self.dtype, name=name
    )
    conv = lambda f, k, name: _conv(
      f, k, train=train, impl=self.conv_impl, dtype=self.dtype, name=name
    )
    h = _upsample(nn.relu(cbn('bn1')(x, cond, train)))
    h = conv(self.features, 3, 'conv1')(h)
    h = conv(self.features, 3, 'conv2')(nn.relu(cbn('bn2')(h, cond, train)))
    # A 1x1 convolution commutes with nearest upsampling: convolve first, 4x cheaper.
    return h + _upsample(conv(self.features, 1, 'skip')(x))


class DBlock(nn.Module):
  """BigGAN's down-block (wide: the hidden width is the output width).

  `preactivation=True`: `pool(conv3(relu(conv3(relu(x))))) + pool(conv1(x))`;
  the first block (False, "optimized"): no leading ReLU and the skip pools
  first, `pool(conv3(relu(conv3(x)))) + conv1(pool(x))`. The skip is a 1x1
  convolution only when the width changes or the block downsamples.
  """

  features: int
  downsample: bool = True
  preactivation: bool = True
  conv_impl: str = 'xla'
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    conv = lambda f, k, name: _conv(
      f, k, train=train, impl=self.conv_impl, dtype=self.dtype, name=name
    )
    h = nn.relu(x) if self.preactivation else x
    h = conv(self.features, 3, 'conv1')(h)
    h = conv(self.features, 3, 'conv2')(nn.relu(h))
    skip = x
    learnable = self.downsample or x.shape[-1] != self.features
    if self.downsample:
      h = _avg_pool(h)
      if not self.preactivation:
        skip = _avg_pool(skip)
    if learnable:
      skip = conv(self.features, 1, 'skip')(skip)
    if self.downsample and self.preactivation:
      skip = _avg_pool(skip)
    return h + skip


class Generator(nn.Module):
  """Maps `z [B, latent_dim]` and class ids `[B]` to images `[B, size, size, channels]` in [-1, 1].

  Attributes:
    size: 32, 64, 128 or 256.
    channels: image channels.
    width: channel multiplier (`G_CHANNELS[size]` times it).
    latent_dim: size of z; a multiple of the number of blocks + 1 (32: 4, 64: 5, 128: 6, 256: 7).
    shared_dim: size of the shared class embedding.
    num_classes: > 0: conditioned on class ids. 0: unconditional; no class embedding,
      each block's BatchNorm is conditioned on its chunk of z alone (and `cond` must be None).
    attention_res: self-attention after the block with this output resolution (0: none).
    attention_pool: max-pool the attention's keys and values (BigGAN's; see `SelfAttention`).
    conv_impl: see `jaxgan.layers.conv` (every convolution is stride 1).
    dtype: compute dtype (None: float32); parameters are float32, the output is float32.
    bn_axis_name: the pmap axis: BatchNorm statistics over the global batch.
  """

  size: int = 32
  channels: int = 3
  width: int = 96
  latent_dim: int = 80
  shared_dim: int = 128
  num_classes: int = 0
  attention_res: int = 16  # 0: none
  attention_pool: bool = True
  conv_impl: str = 'xla'
  dtype: Any = None
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, z: Array, cond: Array | None = None, train: bool = True) -> Array:
    _check_size(self.size)
    _check_attention(self.attention_res, g_resolutions(self.size), 'generator')
    in_mults, out_mults = G_CHANNELS[self.size]
    slots = len(out_mults) + 1
    if z.ndim != 2 or z.shape[-1] != self.latent_dim:
      raise ValueError(f'BigGAN Generator wants z [B, {self.latent_dim}]; got {z.shape}')
    if self.latent_dim % slots:
      raise ValueError(
        f'BigGAN {self.size} splits z into {slots} equal chunks (one per block and one for '
        f'the first layer): latent_dim={self.latent_dim} is not a multiple of {slots}'
      )
    chunks = jnp.split(z, slots, axis=-1)
    conds = chunks[1:]
    if self.num_classes:
      if cond is None or cond.ndim != 1 or jnp.issubdtype(cond.dtype, jnp.floating):
        got = None if cond is None else f'{cond.dtype} {cond.shape}'
        raise ValueError(f'BigGAN Generator wants class ids [B] (int); got {got}')
      # Not spectrally normalised: BigGAN's authors found SN on G's embedding harmful.
      shared = nn.Embed(
        self.num_classes, self.shared_dim, embedding_init=ORTHOGONAL, name='shared_embedding'
      )(cond)
      conds = [jnp.concatenate([shared, c.astype(shared.dtype)], axis=-1) for c in conds]
    elif cond is not None:
      raise ValueError('BigGAN Generator is unconditional (num_classes = 0) but got a condition')

    features = in_mults[0] * self.width
    linear = nn.Dense(
      BOTTOM * BOTTOM * features, dtype=self.dtype, kernel_init=ORTHOGONAL, name='linear'
    )
    x = layers.spectral(linear, train)(chunks[0]).reshape(-1, BOTTOM, BOTTOM, features)
    for i, mult in enumerate(out_mults):
      x = GBlock(
        mult * self.width,
        conv_impl=self.conv_impl,
        dtype=self.dtype,
        bn_axis_name=self.bn_axis_name,
        name=f'block{i}',
      )(x, conds[i], train)
      if x.shape[1] == self.attention_res:
        x = SelfAttention(
          pool=self.attention_pool, conv_impl=self.conv_impl, dtype=self.dtype, name='attention'
        )(x, train)
    x = nn.BatchNorm(
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      axis_name=self.bn_axis_name,
      dtype=self.dtype,
      name='bn_out',
    )(x)
    x = _conv(
      self.channels, 3, train=train, impl=self.conv_impl, dtype=self.dtype, name='conv_out'
    )(nn.relu(x))
    return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
  """Maps images `[B, size, size, channels]` and class ids `[B]` to logits `[B]` (float32).

  No BatchNorm: D is normalised by spectral norm alone, as in BigGAN.

  Attributes:
    size: 32, 64, 128 or 256.
    channels: image channels.
    width: channel multiplier (`D_CHANNELS[size]` times it).
    num_classes: > 0: the projection term `<embed(class), h>` joins the linear head.
      0: unconditional, no projection (and `cond` must be None).
    attention_res: self-attention after the first block with this output resolution (0: none).
    attention_pool: max-pool the attention's keys and values (BigGAN's; see `SelfAttention`).
    conv_impl: see `jaxgan.layers.conv` (every convolution is stride 1).
    dtype: compute dtype (None: float32); parameters, the pooled features and logits are float32.
  """

  size: int = 32
  channels: int = 3
  width: int = 96
  num_classes: int = 0
  attention_res: int = 16  # 0: none
  attention_pool: bool = True
  conv_impl: str = 'xla'
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, cond: Array | None = None, train: bool = True) -> Array:
    _check_size(self.size)
    resolutions = d_resolutions(self.size)
    _check_attention(self.attention_res, resolutions, 'discriminator')
    expected = (self.size, self.size, self.channels)
    if x.ndim != 4 or x.shape[1:] != expected:
      raise ValueError(
        f'BigGAN Discriminator wants images [B, {self.size}, {self.size}, {self.channels}]; '
        f'got {x.shape}'
      )
    if self.num_classes:
      if cond is None or cond.ndim != 1 or jnp.issubdtype(cond.dtype, jnp.floating):
        got = None if cond is None else f'{cond.dtype} {cond.shape}'
        raise ValueError(f'BigGAN Discriminator wants class ids [B] (int); got {got}')
    elif cond is not None:
      raise ValueError(
        'BigGAN Discriminator is unconditional (num_classes = 0) but got a condition'
      )

    mults, downs = D_CHANNELS[self.size]
    attention_at = resolutions.index(self.attention_res) if self.attention_res else -1
    h = x
    for i, (mult, down) in enumerate(zip(mults, downs, strict=True)):
      h = DBlock(
        mult * self.width,
        downsample=down,
        preactivation=i > 0,
        conv_impl=self.conv_impl,
        dtype=self.dtype,
        name=f'block{i}',
      )(h, train)
      if i == attention_at:
        h = SelfAttention(
          pool=self.attention_pool, conv_impl=self.conv_impl, dtype=self.dtype, name='attention'
        )(h, train)
    h = jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2))  # [B, C]
    head = nn.Dense(1, kernel_init=ORTHOGONAL, name='linear')
    logits = layers.spectral(head, train)(h)[:, 0]
    if self.num_classes:
      embed = nn.Embed(
        self.num_classes, h.shape[-1], embedding_init=ORTHOGONAL, name='class_embedding'
      )
      logits = logits + jnp.sum(layers.spectral(embed, train)(cond) * h, axis=-1)
    return logits


def create(
  *,
  size: int = 32,
  channels: int = 3,
  width: int = 96,
  latent_dim: int = 80,
  shared_dim: int = 128,
  num_classes: int = 0,
  attention_res: int = 16,
  attention_pool: bool = True,
  conv_impl: str = 'xla',
  dtype: Any = None,
  bn_axis_name: str | None = None,
) -> tuple[Generator, Discriminator]:
  """The (generator, discriminator) pair from `config.model`'s keys (defaults: StudioGAN CIFAR).

  `num_classes` > 0 makes both networks class-conditional (StudioGAN CIFAR-10: 10); the
  other keys are the attributes of `Generator` and `Discriminator`.

  Raises:
    ValueError: on a size, attention resolution or latent size BigGAN cannot build, naming
      the `config.model` key.
  """
  if size not in SIZES:
    raise ValueError(f'config.model.size={size} must be one of {SIZES} for BigGAN')
  slots = len(G_CHANNELS[size][1]) + 1
  if latent_dim % slots:
    raise ValueError(
      f'config.model.latent_dim={latent_dim} must be a multiple of {slots} for BigGAN {size} '
      '(z is split into one chunk per block plus one)'
    )
  for who, resolutions in (('G', g_resolutions(size)), ('D', d_resolutions(size))):
    if attention_res and attention_res not in resolutions:
      raise ValueError(
        f'config.model.attention_res={attention_res}: BigGAN {size} {who} has no block with '
        f'that output size; choose one of {sorted(set(resolutions))} or 0 (none)'
      )
  if num_classes < 0:
    raise ValueError(f'config.model.num_classes={num_classes} must be >= 0')
  shared = dict(
    size=size,
    channels=channels,
    width=width,
    num_classes=num_classes,
    attention_res=attention_res,
    attention_pool=attention_pool,
    conv_impl=conv_impl,
    dtype=dtype,
  )
  g = Generator(**shared, latent_dim=latent_dim, shared_dim=shared_dim, bn_axis_name=bn_axis_name)
  return g, Discriminator(**shared)
