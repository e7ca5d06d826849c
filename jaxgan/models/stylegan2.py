"""StyleGAN2 networks (Karras et al. 2020; the ADA paper's configurations), 32x32 to 1024x1024.

Written from the papers' description of the algorithm:

- Equalised learning rate: every weight is stored N(0, 1/lr_mul^2) and scaled
  at run time by `lr_mul / sqrt(fan_in)`, biases by `lr_mul`; leaky ReLU (0.2)
  outputs are multiplied by sqrt(2) (the activation gain); activations may be
  clamped to [-clamp, clamp] (256 with reduced precision).
- `MappingNetwork`: z normalised by its second moment (and, when conditional, a
  class embedding normalised likewise and joined to it), `num_layers` dense
  layers at learning-rate multiplier 0.01; w broadcast to `[B, num_ws, w_dim]`.
  It tracks `w_avg` (the moving mean of w, beta 0.995) in the 'stats' collection,
  and truncates `w_avg + psi (w - w_avg)`.
- `SynthesisNetwork`: a learned 4x4 constant, then per resolution two modulated
  3x3 convolutions (the first up-sampling 2x through the [1, 3, 3, 1] FIR
  filter) with per-pixel noise of learned strength, and a modulated 1x1 toRGB
  whose output is added to the up-sampled image so far (the "skip" generator).
  Channels at resolution r: `min(channel_base // r, channel_max)`. It takes
  per-layer styles `[B, num_ws, w_dim]`, so a game can mix styles.
- `Discriminator`: residual blocks (two 3x3 convolutions, the second down-
  sampling, plus a 1x1 down-sampled shortcut, the sum scaled by sqrt(1/2)) from
  a 1x1 fromRGB at the input; an epilogue at 4x4 with the minibatch standard
  deviation (one channel), a 3x3 convolution, two dense layers. Conditional:
  projection, `<out, cmap> / sqrt(cmap_dim)`, `cmap` the class embedding through a
  mapping network (z_dim 0, lr_mul 0.01, `mapping_layers` layers) as in ADA.

Variables: 'params'; 'stats' (G's `mapping/w_avg`, updated in training mode when
the collection is mutable); 'consts' (G's fixed noise images for `noise_mode='const'`,
one per layer, drawn at init). Random noise draws from the 'noise' RNG stream.

The modulated convolution defaults to the unfused form, the fastest on XLA:CPU.
The fused form's grouped convolution runs as batched matmuls (one per kernel tap;
`resample._grouped_conv`), since XLA:CPU's own grouped convolution, above all its
weight gradient, is 5-10x slower. Forward + backward, jitted, one 3x3 layer at
16x16x128, batch 8, 2-core CPU, 2026-12-05: 303 ms with XLA's grouped
convolution, 43-55 ms as batched matmuls, 14 ms unfused; the whole 32x32 G with
128 maps, batch 8: 1.71 s before the matmuls, 0.37 s fused, 0.11 s unfused.
"""

import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers, resample

Array = jax.Array
Dtype = Any

MIN_SIZE, MAX_SIZE = 32, 1024
NOISE_MODES = ('random', 'const', 'none')
MODCONV_IMPLS = ('fused', 'unfused')
# G's output: the paper's linear images, or squashed by tanh into [-1, 1] (DCGAN's output).
OUTPUTS = ('linear', 'tanh')
D_ARCHITECTURES = ('resnet', 'orig')
DEMOD_EPS = 1e-8
# Half precision is clamped to +-256 by default: the conv clamp of the ADA configurations.
HALF_PRECISION_CLAMP = 256.0


def _lrelu(x: Array) -> Array:
  return nn.leaky_relu(x, 0.2)


# name -> (function, gain that keeps the second moment of a unit-variance input)
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], float]] = {
  'linear': (lambda x: x, 1.0),
  'lrelu': (_lrelu, math.sqrt(2.0)),
}


def activate(
  x: Array, activation: str = 'linear', *, gain: float = 1.0, clamp: float | None = None
) -> Array:
  """`f(x) * f_gain * gain`, then clipped to `[-clamp * gain, clamp * gain]` when `clamp` is set.

  Raises:
    ValueError: on an unknown activation.
  """
  if activation not in ACTIVATIONS:
    raise ValueError(f'unknown activation {activation!r}; known: {", ".join(ACTIVATIONS)}')
  fn, act_gain = ACTIVATIONS[activation]
  x = fn(x)
  total = act_gain * gain
  if total != 1.0:
    x = x * jnp.asarray(total, x.dtype)
  if clamp is not None:
    x = jnp.clip(x, -clamp * gain, clamp * gain)
  return x


def _rms_normalize(x: Array, eps: float = 1e-8) -> Array:
  """`x` divided by the root mean square of its last axis."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def _compute_dtype(dtype: Dtype | None) -> Dtype:
  return jnp.float32 if dtype is None else dtype


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at `resolution`: `min(channel_base // resolution, channel_max)`."""
  return min(channel_base // resolution, channel_max)


def _log2_size(size: int, who: str) -> int:
  log2 = int(round(math.log2(size))) if size > 0 else 0
  if not MIN_SIZE <= size <= MAX_SIZE or 2**log2 != size:
    raise ValueError(f'{who} size must be a power of two in [{MIN_SIZE}, {MAX_SIZE}]; got {size}')
  return log2


def _half_from(size: int, num_half_res: int) -> int:
  """The lowest resolution whose blocks run in the reduced-precision dtype (never 4x4)."""
  if num_half_res <= 0:
    return size * 2
  return max(2 ** (int(math.log2(size)) + 1 - num_half_res), 8)


# ---------------------------------------------------------------------------
# Equalised learning rate
# ---------------------------------------------------------------------------


class EqualizedDense(nn.Module):
  """Dense layer with an equalised learning rate: `act((x @ K) * lr_mul / sqrt(I) + b * lr_mul)`.

  The stored kernel is drawn N(0, 1/lr_mul^2), so the effective weight starts
  N(0, 1/I); an optimizer step of size `lr` on the stored kernel moves the
  effective weight by `lr * lr_mul / sqrt(I)`. The stored bias starts at
  `bias_init / lr_mul` (the effective bias at `bias_init`).

  Attributes:
    features: output features `O`.
    lr_mul: learning-rate multiplier.
    bias_init: initial effective bias.
    use_bias: add a bias.
    activation: 'linear' or 'lrelu' (with its sqrt(2) gain).
    dtype: compute dtype (None: float32).
  """

  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True
  activation: str = 'linear'
  dtype: Dtype | None = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """`[..., I]` -> `[..., O]`."""
    fan_in = x.shape[-1]
    kernel = self.param(
      'kernel', nn.initializers.normal(1.0 / self.lr_mul), (fan_in, self.features), jnp.float32
    )
    dtype = _compute_dtype(self.dtype)
    kernel = kernel * (self.lr_mul / math.sqrt(fan_in))
    y = jnp.dot(x.astype(dtype), kernel.astype(dtype))
    if self.use_bias:
      bias = self.param(
        'bias', nn.initializers.constant(self.bias_init / self.lr_mul), (self.features,)
      )
      y = y + (bias * self.lr_mul).astype(dtype)
    return activate(y, self.activation)


class EqualizedConv(nn.Module):
  """Convolution with an equalised learning rate, optionally resampling 2x through the FIR filter.

  Effective kernel `K * lr_mul / sqrt(k * k * I)`; see `EqualizedDense` and
  `resample.conv2d_resample` (same-size output, or 2x up/down).

  Attributes:
    features: output channels `O`.
    kernel_size: odd `k`.
    up: 1 or 2.
    down: 1 or 2.
    use_bias: add a bias.
    activation: 'linear' or 'lrelu'.
    gain: extra output gain (the residual D's sqrt(1/2)); scales the clamp too.
    clamp: clip the activations to `[-clamp, clamp]` (None: no clipping).
    lr_mul: learning-rate multiplier.
    dtype: compute dtype (None: float32).
    impl: `jaxgan.layers` convolution implementation ('fast' or 'xla').
  """

  features: int
  kernel_size: int = 3
  up: int = 1
  down: int = 1
  use_bias: bool = True
  activation: str = 'linear'
  gain: float = 1.0
  clamp: float | None = None
  lr_mul: float = 1.0
  dtype: Dtype | None = None
  impl: str = 'fast'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """`[B, H, W, I]` -> `[B, H * up / down, W * up / down, O]`."""
    k = self.kernel_size
    fan_in = k * k * x.shape[-1]
    kernel = self.param(
      'kernel', nn.initializers.normal(1.0 / self.lr_mul), (k, k, x.shape[-1], self.features)
    )
    dtype = _compute_dtype(self.dtype)
    kernel = (kernel * (self.lr_mul / math.sqrt(fan_in))).astype(dtype)
    y = resample.conv2d_resample(
      x.astype(dtype), kernel, up=self.up, down=self.down, impl=self.impl
    )
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
      y = y + (bias * self.lr_mul).astype(dtype)
    return activate(y, self.activation, gain=self.gain, clamp=self.clamp)


# ---------------------------------------------------------------------------
# Modulated convolution
# ---------------------------------------------------------------------------


def demodulation(kernel: Array, styles: Array, eps: float = DEMOD_EPS) -> Array:
  """Per-example, per-output-channel `1 / sqrt(sum_{i,kh,kw} (K[kh,kw,i,o] s[b,i])^2 + eps)`.

  Computed without forming the per-example kernels.

  Args:
    kernel: `[k, k, I, O]`.
    styles: `[B, I]`.
    eps: added under the square root.

  Returns:
    `[B, O]` float32.
  """
  kernel = kernel.astype(jnp.float32)
  styles = styles.astype(jnp.float32)
  energy = jnp.dot(jnp.square(styles), jnp.sum(jnp.square(kernel), axis=(0, 1)))
  return jax.lax.rsqrt(energy + eps)


def modulated_conv(
  x: Array,
  kernel: Array,
  styles: Array,
  *,
  demodulate: bool = True,
  up: int = 1,
  fused: bool = False,
  impl: str = 'fast',
) -> Array:
  """Convolution whose kernel is scaled per example by styles, optionally demodulated.

  Per example b: `K_b[kh, kw, i, o] = K[kh, kw, i, o] * s[b, i]`, then with
  `demodulate` each output channel's `K_b[..., o]` divided by its L2 norm
  (`rsqrt(sum K_b^2 + 1e-8)`), so a unit-variance input gives ~unit-variance
  outputs. The two implementations compute the same function:

  - fused: the per-example kernels formed explicitly; the batch folded into
    the feature axis and convolved as ONE grouped convolution (B groups), by
    default as batched matmuls (XLA:CPU's grouped convolution is 5-10x slower);
  - unfused: the input's channels scaled by the styles, ONE convolution with the
    shared kernel, the outputs scaled by the demodulation coefficients.

  Args:
    x: `[B, H, W, I]`; its dtype is the compute dtype.
    kernel: `[k, k, I, O]` (k odd), used as stored (demodulation makes its scale moot;
      without it, fold any weight gain into `styles`).
    styles: `[B, I]`.
    demodulate: normalise the modulated kernels.
    up: 1 or 2 (2x up-sampling through the FIR filter, as `resample.conv2d_resample`).
    fused: the per-example-kernel implementation.
    impl: the convolution's implementation: for the shared kernel (unfused), a
      `jaxgan.layers` one; for the grouped one (fused), 'xla' (XLA's grouped
      convolution) or batched matmuls ('fast', 'patches'; `resample._grouped_conv`).

  Returns:
    `[B, H * up, W * up, O]` in `x.dtype`.
  """
  b, h, w, c_in = x.shape
  if styles.shape != (b, c_in) or kernel.shape[2] != c_in:
    raise ValueError(
      f'modulated_conv wants x [B, H, W, I], kernel [k, k, I, O], styles [B, I]; got {x.shape}, '
      f'{kernel.shape}, {styles.shape}'
    )
  dtype = x.dtype
  k, c_out = kernel.shape[0], kernel.shape[-1]
  coefficients = demodulation(kernel, styles) if demodulate else None  # [B, O]
  if not fused:
    x = x * styles.astype(dtype)[:, None, None, :]
    y = resample.conv2d_resample(x, kernel.astype(dtype), up=up, impl=impl)
    if coefficients is not None:
      y = y * coefficients.astype(dtype)[:, None, None, :]
    return y
  kernels = kernel.astype(jnp.float32)[None] * styles.astype(jnp.float32)[:, None, None, :, None]
  if coefficients is not None:
    kernels = kernels * coefficients[:, None, None, None, :]  # [B, k, k, I, O]
  kernels = kernels.transpose(1, 2, 3, 0, 4).reshape(k, k, c_in, b * c_out).astype(dtype)
  x = x.transpose(1, 2, 0, 3).reshape(1, h, w, b * c_in)
  y = resample.conv2d_resample(x, kernels, up=up, groups=b, impl=impl)
  return y.reshape(*y.shape[1:3], b, c_out).transpose(2, 0, 1, 3)


class StyledConv(nn.Module):
  """One synthesis layer: affine style from w, modulated conv, noise, bias, leaky ReLU.

  Attributes:
    features: output channels.
    resolution: output resolution (of the noise image).
    kernel_size: odd kernel size.
    up: 1 or 2.
    clamp: activation clamp (None: none).
    fused: the fused modulated convolution.
    dtype: compute dtype (None: float32).
    impl: shared-kernel convolution implementation.
  """

  features: int
  resolution: int
  kernel_size: int = 3
  up: int = 1
  clamp: float | None = None
  fused: bool = False
  dtype: Dtype | None = None
  impl: str = 'fast'

  @nn.compact
  def __call__(self, x: Array, w: Array, *, noise_mode: str = 'random') -> Array:
    """`x [B, H, W, I]`, `w [B, w_dim]` -> `[B, H * up, W * up, features]`."""
    if noise_mode not in NOISE_MODES:
      raise ValueError(f'unknown noise_mode {noise_mode!r}; known: {", ".join(NOISE_MODES)}')
    dtype = _compute_dtype(self.dtype)
    styles = EqualizedDense(x.shape[-1], bias_init=1.0, name='affine')(w)
    k = self.kernel_size
    kernel = self.param(
      'kernel', nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features), jnp.float32
    )
    y = modulated_conv(
      x.astype(dtype), kernel, styles, up=self.up, fused=self.fused, impl=self.impl
    )
    strength = self.param('noise_strength', nn.initializers.zeros_init(), ())
    shape = (self.resolution, self.resolution)
    if self.is_initializing() or noise_mode == 'const':
      const = self.variable(
        'consts', 'noise', lambda: jax.random.normal(self.make_rng('params'), shape)
      )
    if noise_mode == 'const':
      y = y + (const.value * strength).astype(dtype)[None, :, :, None]
    elif noise_mode == 'random' and not self.is_initializing():
      if not self.has_rng('noise'):
        raise ValueError(
          "noise_mode='random' needs a 'noise' RNG stream (apply(..., rngs={'noise': key})); "
          "or pass noise_mode='const' or 'none'"
        )
      noise = jax.random.normal(self.make_rng('noise'), (y.shape[0], *shape, 1))
      y = y + (noise * strength).astype(dtype)
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    return activate(y + bias.astype(dtype), 'lrelu', clamp=self.clamp)


class ToImage(nn.Module):
  """Modulated 1x1 convolution to image channels, not demodulated (the skip G's toRGB).

  Attributes:
    channels: image channels.
    clamp: output clamp.
    fused: the fused modulated convolution.
    dtype: compute dtype (None: float32).
    impl: shared-kernel convolution implementation.
  """

  channels: int
  clamp: float | None = None
  fused: bool = False
  dtype: Dtype | None = None
  impl: str = 'fast'

  @nn.compact
  def __call__(self, x: Array, w: Array) -> Array:
    """`x [B, H, W, I]`, `w [B, w_dim]` -> `[B, H, W, channels]` float32."""
    c_in = x.shape[-1]
    styles = EqualizedDense(c_in, bias_init=1.0, name='affine')(w) / math.sqrt(c_in)
    kernel = self.param('kernel', nn.initializers.normal(1.0), (1, 1, c_in, self.channels))
    dtype = _compute_dtype(self.dtype)
    y = modulated_conv(
      x.astype(dtype), kernel, styles, demodulate=False, fused=self.fused, impl=self.impl
    )
    bias = self.param('bias', nn.initializers.zeros_init(), (self.channels,))
    return activate(y + bias.astype(dtype), clamp=self.clamp).astype(jnp.float32)


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


def update_w_avg(w_avg: Array, w: Array, *, beta: float = 0.995) -> Array:
  """The moving average of w after one batch: `beta * w_avg + (1 - beta) * mean_b(w)`.

  Args:
    w_avg: `[w_dim]`.
    w: a batch of mapped latents `[B, w_dim]` (not broadcast).
    beta: decay.

  Returns:
    `[w_dim]`, no gradient flowing to `w`.
  """
  mean = jnp.mean(jax.lax.stop_gradient(w).astype(jnp.float32), axis=0)
  return beta * w_avg + (1.0 - beta) * mean


def truncate(ws: Array, w_avg: Array, psi: float | Array, cutoff: int | None = None) -> Array:
  """The truncation trick: `w_avg + psi * (w - w_avg)` on the first `cutoff` layers (all: None).

  Args:
    ws: `[B, num_ws, w_dim]`.
    w_avg: `[w_dim]`.
    psi: 0 gives `w_avg`, 1 the identity.
    cutoff: number of leading layers truncated.

  Returns:
    `[B, num_ws, w_dim]`.
  """
  truncated = w_avg + psi * (ws - w_avg)
  if cutoff is None:
    return truncated
  return jnp.concatenate([truncated[:, :cutoff], ws[:, cutoff:]], axis=1)


def _class_vectors(cond: Array, num_classes: int, who: str) -> Array:
  """Class ids `[B]` (int) as one-hot `[B, num_classes]`; float `[B, num_classes]` as is."""
  if cond is None:
    raise ValueError(f'a conditional {who} (num_classes > 0) needs class ids or vectors')
  if cond.ndim == 1 and not jnp.issubdtype(cond.dtype, jnp.floating):
    return jax.nn.one_hot(cond, num_classes, dtype=jnp.float32)
  if cond.ndim == 2 and cond.shape[-1] == num_classes:
    return cond.astype(jnp.float32)
  raise ValueError(
    f'{who} wants class ids [B] (int) or vectors [B, {num_classes}]; got {cond.dtype} {cond.shape}'
  )


class MappingNetwork(nn.Module):
  """z (and a class) -> w, broadcast to every synthesis layer; tracks the mean w.

  Attributes:
    z_dim: latent size (0: no latent, only the class, as D's projection uses it).
    w_dim: output size (and the class embedding's).
    num_ws: layers w is broadcast to (0: return `[B, w_dim]`).
    num_classes: > 0: conditional on a class.
    num_layers: dense layers (8 in the paper, 2 in ADA's CIFAR configuration).
    hidden: hidden width (None: `w_dim`).
    lr_mul: learning-rate multiplier of the dense layers.
    w_avg_beta: decay of the moving mean `w_avg` in the 'stats' collection (None: none kept).
  """

  z_dim: int = 512
  w_dim: int = 512
  num_ws: int = 0
  num_classes: int = 0
  num_layers: int = 8
  hidden: int | None = None
  lr_mul: float = 0.01
  w_avg_beta: float | None = 0.995

  @nn.compact
  def __call__(
    self,
    z: Array | None,
    cond: Array | None = None,
    train: bool = False,
    *,
    truncation_psi: float | Array = 1.0,
    truncation_cutoff: int | None = None,
  ) -> Array:
    """`z [B, z_dim]`, `cond` (class ids `[B]` or vectors `[B, num_classes]`) ->
    `ws [B, num_ws, w_dim]` (`[B, w_dim]` when `num_ws=0`), float32.

    In training mode with a mutable 'stats' collection, `w_avg` moves toward the
    batch's mean w (`update_w_avg`, before truncation).
    """
    parts = []
    if self.z_dim:
      if z is None or z.ndim != 2 or z.shape[-1] != self.z_dim:
        raise ValueError(f'MappingNetwork wants z [B, {self.z_dim}]; got {getattr(z, "shape", z)}')
      parts.append(_rms_normalize(z.astype(jnp.float32)))
    if self.num_classes:
      one_hot = _class_vectors(cond, self.num_classes, 'MappingNetwork')
      parts.append(_rms_normalize(EqualizedDense(self.w_dim, name='embed')(one_hot)))
    elif cond is not None:
      raise ValueError('MappingNetwork is unconditional (num_classes = 0) but got a condition')
    if not parts:
      raise ValueError('MappingNetwork needs z_dim > 0 or num_classes > 0')
    x = jnp.concatenate(parts, axis=-1)
    for i in range(self.num_layers):
      last = i == self.num_layers - 1
      features = self.w_dim if last else (self.hidden or self.w_dim)
      x = EqualizedDense(features, lr_mul=self.lr_mul, activation='lrelu', name=f'fc{i}')(x)
    num_ws = max(self.num_ws, 1)
    ws = jnp.broadcast_to(x[:, None], (x.shape[0], num_ws, x.shape[1]))
    truncating = not (isinstance(truncation_psi, int | float) and truncation_psi == 1.0)
    if self.w_avg_beta is not None:
      updating = train and self.is_mutable_collection('stats') and not self.is_initializing()
      if self.is_initializing() or truncating or updating:
        w_avg = self.variable('stats', 'w_avg', jnp.zeros, (self.w_dim,), jnp.float32)
      if updating:
        w_avg.value = update_w_avg(w_avg.value, x, beta=self.w_avg_beta)
    if truncating:
      if self.w_avg_beta is None:
        raise ValueError('truncation needs w_avg: MappingNetwork(w_avg_beta=None) keeps none')
      ws = truncate(ws, jax.lax.stop_gradient(w_avg.value), truncation_psi, truncation_cutoff)
    return ws if self.num_ws else ws[:, 0]


class SynthesisBlock(nn.Module):
  """One resolution of the skip generator: (up-sampling conv,) conv, toRGB added to the image."""

  resolution: int
  features: int
  channels: int
  clamp: float | None = None
  fused: bool = False
  dtype: Dtype | None = None
  impl: str = 'fast'

  @nn.compact
  def __call__(
    self, x: Array | None, img: Array | None, ws: Array, *, noise_mode: str
  ) -> tuple[Array, Array]:
    """One block at resolution r.

    Args:
      x: features `[B, r/2, r/2, C]`; None at 4x4 (the learned constant).
      img: the image so far `[B, r/2, r/2, channels]`; None at 4x4.
      ws: styles `[B, 3, w_dim]` for conv0, conv1, toRGB (`[B, 2, w_dim]` at 4x4).
      noise_mode: see `Generator.synthesize`.

    Returns:
      `(x [B, r, r, features], img [B, r, r, channels])`.
    """
    common = dict(clamp=self.clamp, fused=self.fused, dtype=self.dtype, impl=self.impl)
    dtype = _compute_dtype(self.dtype)
    if x is None:
      const = self.param(
        'const', nn.initializers.normal(1.0), (self.resolution, self.resolution, self.features)
      )
      x = jnp.broadcast_to(const.astype(dtype), (ws.shape[0], *const.shape))
      ws = jnp.concatenate([ws[:, :1], ws], axis=1)  # no conv0 at 4x4: align to [conv0, conv1, rgb]
    else:
      x = StyledConv(self.features, self.resolution, up=2, name='conv0', **common)(
        x, ws[:, 0], noise_mode=noise_mode
      )
    x = StyledConv(self.features, self.resolution, name='conv1', **common)(
      x, ws[:, 1], noise_mode=noise_mode
    )
    y = ToImage(self.channels, name='torgb', **common)(x, ws[:, 2])
    img = y if img is None else resample.upsample2d(img) + y
    return x, img


class SynthesisNetwork(nn.Module):
  """Per-layer styles `ws [B, num_ws, w_dim]` -> images `[B, size, size, channels]` (float32).

  `num_ws = 2 log2(size) - 2`: at resolution `4 * 2**l` conv0 takes `ws[:, 2l - 1]`,
  conv1 `ws[:, 2l]` and toRGB `ws[:, 2l + 1]` (shared with the next block's conv0).
  Blocks at the `num_half_res` highest resolutions (never 4x4) compute in `dtype`.

  Attributes: see `Generator`.
  """

  size: int = 256
  channels: int = 3
  channel_base: int = 32768
  channel_max: int = 512
  num_half_res: int = 4
  dtype: Dtype | None = None
  conv_clamp: float | None = None
  modconv: str = 'unfused'
  conv_impl: str = 'fast'

  @property
  def num_ws(self) -> int:
    return 2 * _log2_size(self.size, 'SynthesisNetwork') - 2

  @nn.compact
  def __call__(self, ws: Array, *, noise_mode: str = 'random') -> Array:
    log2 = _log2_size(self.size, 'SynthesisNetwork')
    if ws.ndim != 3 or ws.shape[1] != self.num_ws:
      raise ValueError(f'SynthesisNetwork wants ws [B, {self.num_ws}, w_dim]; got {ws.shape}')
    if self.modconv not in MODCONV_IMPLS:
      raise ValueError(f'unknown modconv {self.modconv!r}; known: {", ".join(MODCONV_IMPLS)}')
    half = self.dtype is not None and self.dtype != jnp.float32
    clamp = self.conv_clamp if self.conv_clamp is not None or not half else HALF_PRECISION_CLAMP
    half_from = _half_from(self.size, self.num_half_res)
    x = img = None
    for level in range(log2 - 1):
      res = 4 * 2**level
      block_ws = ws[:, 0:2] if level == 0 else ws[:, 2 * level - 1 : 2 * level + 2]
      x, img = SynthesisBlock(
        res,
        channels_at(res, self.channel_base, self.channel_max),
        self.channels,
        clamp=clamp,
        fused=self.modconv == 'fused',
        dtype=self.dtype if res >= half_from else None,
        impl=self.conv_impl,
        name=f'b{res}',
      )(x, img, block_ws, noise_mode=noise_mode)
    return img


class Generator(nn.Module):
  """StyleGAN2's generator: `z [B, z_dim]` (and classes) -> images `[B, size, size, channels]`.

  The images are the synthesis network's linear output (float32, about [-1, 1]
  once trained; no tanh unless `output='tanh'`). `__call__` maps and synthesises; `map` and
  `synthesize` (`apply(..., method='map')`) expose the two halves, so a game can
  mix styles (two `map` calls, `ws` spliced at a layer) or truncate.

  Attributes:
    size: image size, a power of two in [32, 1024].
    channels: image channels (1 or 3).
    z_dim: latent size.
    w_dim: intermediate latent size.
    num_classes: > 0: conditional (class ids `[B]` or vectors `[B, num_classes]`).
    mapping_layers: mapping depth (8; 2 in ADA's CIFAR configuration).
    mapping_lr_mul: the mapping's learning-rate multiplier.
    w_avg_beta: decay of the tracked mean w.
    channel_base: feature maps at resolution r: `min(channel_base // r, channel_max)`
      (32768 is the ADA configurations' `fmaps=1`, 16384 `fmaps=0.5`).
    channel_max: upper bound on feature maps.
    num_half_res: number of highest resolutions computed in `dtype`.
    dtype: their compute dtype (bfloat16 on GPU/TPU; None: float32 everywhere).
    conv_clamp: activation clamp (None: 256 when `dtype` is a reduced precision, else none).
    modconv: 'unfused' (8-20x faster on XLA:CPU, see the module's notes) or 'fused'.
    conv_impl: `jaxgan.layers` convolution implementation for the shared-kernel convolutions.
    output: 'linear' (the paper) or 'tanh': the images squashed into [-1, 1]. On MNIST-5k
      a linear G collapsed to one stroke shape; with tanh, which saturates on the constant
      black background, it did not (experiments/README.md).
  """

  size: int = 256
  channels: int = 3
  z_dim: int = 512
  w_dim: int = 512
  num_classes: int = 0
  mapping_layers: int = 8
  mapping_lr_mul: float = 0.01
  w_avg_beta: float = 0.995
  channel_base: int = 32768
  channel_max: int = 512
  num_half_res: int = 4
  dtype: Dtype | None = None
  conv_clamp: float | None = None
  modconv: str = 'unfused'
  conv_impl: str = 'fast'
  output: str = 'linear'

  def setup(self):
    if self.output not in OUTPUTS:
      raise ValueError(f'unknown output {self.output!r}; known: {", ".join(OUTPUTS)}')
    self.synthesis = SynthesisNetwork(
      size=self.size,
      channels=self.channels,
      channel_base=self.channel_base,
      channel_max=self.channel_max,
      num_half_res=self.num_half_res,
      dtype=self.dtype,
      conv_clamp=self.conv_clamp,
      modconv=self.modconv,
      conv_impl=self.conv_impl,
    )
    self.mapping = MappingNetwork(
      z_dim=self.z_dim,
      w_dim=self.w_dim,
      num_ws=self.num_ws,
      num_classes=self.num_classes,
      num_layers=self.mapping_layers,
      lr_mul=self.mapping_lr_mul,
      w_avg_beta=self.w_avg_beta,
    )

  @property
  def num_ws(self) -> int:
    """Number of per-layer styles the synthesis network takes: `2 log2(size) - 2`."""
    return 2 * _log2_size(self.size, 'Generator') - 2

  def __call__(
    self,
    z: Array,
    cond: Array | None = None,
    train: bool = True,
    *,
    truncation_psi: float | Array = 1.0,
    truncation_cutoff: int | None = None,
    noise_mode: str = 'random',
  ) -> Array:
    """`z [B, z_dim]` -> `[B, size, size, channels]`; see `map` and `synthesize`."""
    ws = self.map(
      z,
      cond,
      train,
      truncation_psi=truncation_psi,
      truncation_cutoff=truncation_cutoff,
    )
    return self.synthesize(ws, noise_mode=noise_mode)

  def map(
    self,
    z: Array,
    cond: Array | None = None,
    train: bool = True,
    *,
    truncation_psi: float | Array = 1.0,
    truncation_cutoff: int | None = None,
  ) -> Array:
    """`z [B, z_dim]` (and classes) -> `ws [B, num_ws, w_dim]`; updates 'stats' when training."""
    return self.mapping(
      z,
      cond,
      train,
      truncation_psi=truncation_psi,
      truncation_cutoff=truncation_cutoff,
    )

  def synthesize(self, ws: Array, *, noise_mode: str = 'random') -> Array:
    """`ws [B, num_ws, w_dim]` -> `[B, size, size, channels]` float32.

    `noise_mode`: 'random' (an 'noise' RNG stream needed), 'const' (the fixed noise
    in 'consts') or 'none'.
    """
    images = self.synthesis(ws, noise_mode=noise_mode)
    return jnp.tanh(images) if self.output == 'tanh' else images


# ---------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
  """One resolution of D: (fromRGB,) 3x3 conv, down-sampling 3x3 conv (+ 1x1 shortcut)."""

  resolution: int
  features: int
  out_features: int
  first: bool = False
  architecture: str = 'resnet'
  clamp: float | None = None
  dtype: Dtype | None = None
  impl: str = 'fast'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """`[B, r, r, C]` (images when `first`) -> `[B, r/2, r/2, out_features]`."""
    conv = dict(clamp=self.clamp, dtype=self.dtype, impl=self.impl)
    if self.first:
      x = EqualizedConv(self.features, 1, activation='lrelu', name='fromrgb', **conv)(x)
    residual = self.architecture == 'resnet'
    gain = math.sqrt(0.5) if residual else 1.0
    if residual:
      shortcut = EqualizedConv(
        self.out_features, 1, down=2, use_bias=False, gain=gain, name='skip', **conv
      )(x)
    x = EqualizedConv(self.features, 3, activation='lrelu', name='conv0', **conv)(x)
    x = EqualizedConv(
      self.out_features, 3, down=2, activation='lrelu', gain=gain, name='conv1', **conv
    )(x)
    return x + shortcut if residual else x


class Discriminator(nn.Module):
  """StyleGAN2's discriminator: images `[B, size, size, channels]` (and classes) -> logits `[B]`.

  Attributes:
    size: image size, a power of two in [32, 1024].
    channels: image channels.
    num_classes: > 0: projection-conditioned on a class (ids `[B]` or vectors).
    channel_base: feature maps at resolution r: `min(channel_base // r, channel_max)`.
    channel_max: upper bound on feature maps.
    architecture: 'resnet' (the paper's D) or 'orig' (no shortcuts: ADA's CIFAR D).
    mbstd_group: minibatch standard deviation group size (the batch when it is larger or
      does not divide it; 0: none).
    cmap_dim: projection size (None: the 4x4 feature maps).
    mapping_layers: depth of the class mapping of the projection.
    num_half_res: number of highest resolutions computed in `dtype`.
    dtype: their compute dtype (None: float32 everywhere).
    conv_clamp: activation clamp (None: 256 when `dtype` is a reduced precision, else none).
    conv_impl: `jaxgan.layers` convolution implementation.
  """

  size: int = 256
  channels: int = 3
  num_classes: int = 0
  channel_base: int = 32768
  channel_max: int = 512
  architecture: str = 'resnet'
  mbstd_group: int = 4
  cmap_dim: int | None = None
  mapping_layers: int = 8
  num_half_res: int = 4
  dtype: Dtype | None = None
  conv_clamp: float | None = None
  conv_impl: str = 'fast'

  @nn.compact
  def __call__(self, x: Array, cond: Array | None = None, train: bool = True) -> Array:
    del train  # no state that depends on it
    log2 = _log2_size(self.size, 'Discriminator')
    if x.ndim != 4 or x.shape[1:] != (self.size, self.size, self.channels):
      raise ValueError(
        f'Discriminator wants images [B, {self.size}, {self.size}, {self.channels}]; got {x.shape}'
      )
    if self.architecture not in D_ARCHITECTURES:
      raise ValueError(
        f'unknown D architecture {self.architecture!r}; known: {", ".join(D_ARCHITECTURES)}'
      )
    if not self.num_classes and cond is not None:
      raise ValueError('Discriminator is unconditional (num_classes = 0) but got a condition')
    half = self.dtype is not None and self.dtype != jnp.float32
    clamp = self.conv_clamp if self.conv_clamp is not None or not half else HALF_PRECISION_CLAMP
    half_from = _half_from(self.size, self.num_half_res)
    channels = lambda r: channels_at(r, self.channel_base, self.channel_max)
    for res in (2**i for i in range(log2, 2, -1)):
      x = DiscriminatorBlock(
        res,
        channels(res),
        channels(res // 2),
        first=res == self.size,
        architecture=self.architecture,
        clamp=clamp,
        dtype=self.dtype if res >= half_from else None,
        impl=self.conv_impl,
        name=f'b{res}',
      )(x)
    # Epilogue at 4x4, float32.
    features = channels(4)
    x = x.astype(jnp.float32)
    if self.mbstd_group:
      x = layers.minibatch_stddev(x, self.mbstd_group)
    x = EqualizedConv(
      features, 3, activation='lrelu', clamp=clamp, impl=self.conv_impl, name='conv'
    )(x)
    x = EqualizedDense(features, activation='lrelu', name='fc')(x.reshape(x.shape[0], -1))
    if not self.num_classes:
      return EqualizedDense(1, name='out')(x)[:, 0]
    cmap_dim = self.cmap_dim or features
    out = EqualizedDense(cmap_dim, name='out')(x)
    cmap = MappingNetwork(
      z_dim=0,
      w_dim=cmap_dim,
      num_classes=self.num_classes,
      num_layers=self.mapping_layers,
      w_avg_beta=None,
      name='mapping',
    )(None, cond)
    return jnp.sum(out * cmap, axis=-1) / math.sqrt(cmap_dim)
