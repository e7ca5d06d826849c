"""Convolution layers with PyTorch semantics and CPU-friendly implementations.

XLA:CPU's transposed convolution is pathologically slow in its backward pass
(see the backbone issue: one 16x16x128 -> 32x32x64 layer, fwd+bwd, took 1.02 s
with `nn.ConvTranspose` vs 0.09 s in PyTorch). A transposed convolution with
stride `s` is the same function as `s * s` ordinary stride-1 convolutions, one
per output phase, whose outputs are interleaved (depth-to-space). All phases
share the same input window, so they are computed here as ONE stride-1
convolution with `s * s * C_out` output channels and `ceil(k / s)` taps per
spatial axis: no zero taps when `s` divides `k` (the DCGAN case `k=4, s=2`).
"""

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Dtype = Any

_DIMS = ('NHWC', 'HWIO', 'NHWC')
IMPLS = ('fast', 'subpixel', 'patches', 'taps', 'xla')
CONV_IMPLS = ('fast', 'xla', 'patches')


def transposed_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
  """Spatial output size of PyTorch's `ConvTranspose2d(kernel, stride, padding)`."""
  return (size - 1) * stride - 2 * padding + kernel


def _phase_kernel(kernel: Array, stride: int) -> Array:
  """Rearranges a `[k, k, I, O]` scatter kernel into `[M, M, I, s*s*O]` phase form."""
  k = kernel.shape[0]
  m = -(-k // stride)
  pad = m * stride - k
  kernel = jnp.pad(kernel, ((0, pad), (0, pad), (0, 0), (0, 0)))
  c_in, c_out = kernel.shape[2:]
  # Tap t = j * s + phase; output q of phase p sums x[q - j] * K[j * s + p].
  kernel = kernel.reshape(m, stride, m, stride, c_in, c_out)
  kernel = jnp.flip(kernel, axis=(0, 2))  # correlation form: tap j -> m - 1 - j
  kernel = kernel.transpose(0, 2, 4, 1, 3, 5)  # [M, M, I, s, s, O]
  return kernel.reshape(m, m, c_in, stride * stride * c_out)


def _patches_conv(x: Array, kernel: Array) -> Array:
  """VALID stride-1 convolution as shifted slices + one matmul (fast on XLA:CPU)."""
  kh, kw, c_in, c_out = kernel.shape
  h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  patches = jnp.concatenate(
    [x[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1
  )
  return jnp.dot(patches, kernel.reshape(kh * kw * c_in, c_out))


def _taps_conv(x: Array, kernel: Array, precision: lax.Precision | None = None) -> Array:
  """VALID stride-1 convolution as a sum over taps of shifted slices @ kernel[i, j].

  Every term is a plain matmul, which XLA:CPU runs near its matmul peak; its
  convolution emitter's forward was 1.3-2.6x slower on the stride-1 shapes
  measured, but JAX's gradient of this form is not (benchmarks/README.md).
  """
  kh, kw = kernel.shape[:2]
  h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  return sum(
    jnp.einsum('bhwc,cd->bhwd', x[:, i : i + h, j : j + w, :], kernel[i, j], precision=precision)
    for i in range(kh)
    for j in range(kw)
  )


def conv_transpose(
  x: Array,
  kernel: Array,
  *,
  stride: int,
  padding: int,
  output_padding: int = 0,
  impl: str = 'subpixel',
  precision: lax.Precision | None = None,
) -> Array:
  """PyTorch `ConvTranspose2d` semantics: `y[i * s - p + t] += x[i] @ kernel[t]`.

  Args:
    x: `[B, H, W, I]` input.
    kernel: `[k, k, I, O]` kernel (PyTorch's `weight[I, O, k, k]` transposed to
      `(2, 3, 0, 1)`), used in scatter form, not flipped.
    stride: the stride `s`.
    padding: PyTorch's `padding` `p` (cropped from both sides of the full output).
    output_padding: PyTorch's `output_padding` (`0 <= op < s`): `op` more rows and
      columns at the end.
    impl: 'fast' ('subpixel' forward; its gradients as the ordinary strided
      convolutions XLA:CPU computes well), 'subpixel' (one stride-1 conv +
      depth-to-space, differentiated by JAX), 'patches' (the same with the conv
      written as slices + matmul) or 'xla' (`lax.conv_transpose`).
    precision: passed to the convolution.

  Returns:
    `[B, (H - 1) * s - 2 * p + k + op, (W - 1) * s - 2 * p + k + op, O]`.

  Raises:
    ValueError: on a non-square kernel, bad rank or unknown `impl`.
  """
  if x.ndim != 4 or kernel.ndim != 4:
    raise ValueError(
      f'conv_transpose wants x [B,H,W,C] and kernel [k,k,I,O]; got {x.shape}, {kernel.shape}'
    )
  k = kernel.shape[0]
  if kernel.shape[1] != k or kernel.shape[2] != x.shape[-1]:
    raise ValueError(
      f'kernel {kernel.shape} does not fit input {x.shape} (want [k, k, {x.shape[-1]}, O])'
    )
  if impl not in IMPLS:
    raise ValueError(f'unknown conv_transpose impl {impl!r}; known: {", ".join(IMPLS)}')
  if not 0 <= output_padding < max(stride, 1):
    raise ValueError(f'output_padding must be in [0, stride); got {output_padding}')
  b, h, w, _ = x.shape
  out_h = transposed_output_size(h, k, stride, padding) + output_padding
  out_w = transposed_output_size(w, k, stride, padding) + output_padding
  if out_h <= 0 or out_w <= 0:
    raise ValueError(
      f'conv_transpose output would be empty: input {h}x{w}, k={k}, s={stride}, p={padding}'
    )

  if impl == 'fast':
    return _fast_conv_transpose(x, kernel, stride, padding, output_padding)
  if impl == 'xla':
    pad = k - 1 - padding
    return lax.conv_transpose(
      x,
      jnp.flip(kernel, (0, 1)),
      (stride, stride),
      [(pad, pad + output_padding)] * 2,
      dimension_numbers=_DIMS,
      precision=precision,
    )

  if h == 1 and w == 1 and padding == 0 and output_padding == 0:
    # From a 1x1 input (DCGAN's first layer) every tap lands once: a plain matmul.
    return jnp.einsum('bc,hwcd->bhwd', x[:, 0, 0, :], kernel, precision=precision)

  m = -(-k // stride)
  phase_kernel = _phase_kernel(kernel, stride)
  x_pad = jnp.pad(x, ((0, 0), (m - 1, m - 1), (m - 1, m - 1), (0, 0)))
  if impl == 'patches':
    y = _patches_conv(x_pad, phase_kernel)
  elif impl == 'taps':
    y = _taps_conv(x_pad, phase_kernel, precision)
  else:
    y = lax.conv_general_dilated(
      x_pad, phase_kernel, (1, 1), 'VALID', dimension_numbers=_DIMS, precision=precision
    )
  q_h, q_w, c_out = y.shape[1], y.shape[2], kernel.shape[-1]
  y = y.reshape(b, q_h, q_w, stride, stride, c_out).transpose(0, 1, 3, 2, 4, 5)
  y = y.reshape(b, q_h * stride, q_w * stride, c_out)
  # output_padding can reach past the full output: those positions get no taps.
  short_h, short_w = padding + out_h - y.shape[1], padding + out_w - y.shape[2]
  if short_h > 0 or short_w > 0:
    y = jnp.pad(y, ((0, 0), (0, max(short_h, 0)), (0, max(short_w, 0)), (0, 0)))
  return y[:, padding : padding + out_h, padding : padding + out_w, :]


def conv(
  x: Array,
  kernel: Array,
  *,
  stride: int,
  padding: int,
  impl: str = 'xla',
  precision: lax.Precision | None = None,
) -> Array:
  """PyTorch `Conv2d(kernel, stride, padding)` semantics (cross-correlation), NHWC.

  Args:
    x: `[B, H, W, I]` input.
    kernel: `[k, k, I, O]` kernel.
    stride: the stride.
    padding: zero padding on every side.
    impl: 'fast' (XLA forward; the input gradient, a transposed convolution,
      computed in sub-pixel form), 'xla' (`lax.conv_general_dilated`,
      differentiated by JAX) or 'patches' (strided slices + matmul).
    precision: passed to the convolution or matmul.

  Returns:
    `[B, (H + 2p - k) // s + 1, (W + 2p - k) // s + 1, O]`.
  """
  if impl not in CONV_IMPLS:
    raise ValueError(f'unknown conv impl {impl!r}; known: {", ".join(CONV_IMPLS)}')
  if impl == 'fast':
    return _fast_conv(x, kernel, stride, padding)
  if impl == 'xla':
    return _xla_conv(x, kernel, stride, padding, precision)
  pads = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  k, _, c_in, c_out = kernel.shape
  x = jnp.pad(x, pads)
  out_h = (x.shape[1] - k) // stride + 1
  out_w = (x.shape[2] - k) // stride + 1
  patches = jnp.concatenate(
    [
      x[:, i : i + stride * (out_h - 1) + 1 : stride, j : j + stride * (out_w - 1) + 1 : stride]
      for i in range(k)
      for j in range(k)
    ],
    axis=-1,
  )
  return jnp.dot(patches, kernel.reshape(k * k * c_in, c_out), precision=precision)


class _PyTorchConv(nn.Module):
  """Shared parameters of `Conv` and `ConvTranspose`: a `[k, k, I, O]` kernel and a bias.

  Attributes:
    features: output channels.
    kernel_size: square kernel size `k`.
    strides: stride `s`.
    padding: PyTorch padding `p`.
    use_bias: add a bias.
    impl: see `conv` / `conv_transpose`.
    dtype: compute dtype (None: from inputs and params).
    param_dtype: parameter dtype.
    kernel_init: initialiser of the kernel.
    bias_init: initialiser of the bias.
  """

  features: int
  kernel_size: int
  strides: int = 1
  padding: int = 0
  use_bias: bool = True
  impl: str = 'fast'
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()
  bias_init: Callable[..., Array] = nn.initializers.zeros_init()

  def _op(self, x: Array, kernel: Array) -> Array:
    raise NotImplementedError

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k = self.kernel_size
    kernel = self.param(
      'kernel', self.kernel_init, (k, k, x.shape[-1], self.features), self.param_dtype
    )
    bias = (
      self.param('bias', self.bias_init, (self.features,), self.param_dtype)
      if self.use_bias
      else None
    )
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = self._op(x, kernel)
    return y if bias is None else y + bias


class Conv(_PyTorchConv):
  """`Conv2d(kernel_size, strides, padding)` with PyTorch semantics, NHWC; see `conv`."""

  def _op(self, x: Array, kernel: Array) -> Array:
    return conv(x, kernel, stride=self.strides, padding=self.padding, impl=self.impl)


class ConvTranspose(_PyTorchConv):
  """`ConvTranspose2d(kernel_size, strides, padding)` with PyTorch semantics, NHWC.

  The kernel is `[k, k, I, O]` in scatter form (PyTorch's `weight[I, O, k, k]`
  transposed to `(2, 3, 0, 1)`); see `conv_transpose`.
  """

  output_padding: int = 0

  def _op(self, x: Array, kernel: Array) -> Array:
    return conv_transpose(
      x,
      kernel,
      stride=self.strides,
      padding=self.padding,
      output_padding=self.output_padding,
      impl=self.impl,
    )


def _xla_conv(
  x: Array, kernel: Array, stride: int, padding: int, precision: lax.Precision | None = None
) -> Array:
  return lax.conv_general_dilated(
    x,
    kernel,
    (stride, stride),
    [(padding, padding)] * 2,
    dimension_numbers=_DIMS,
    precision=precision,
  )


def _swap_io(kernel: Array) -> Array:
  return jnp.swapaxes(kernel, 2, 3)


# The three computations of a (transposed) convolution map to two primitives that
# XLA:CPU runs well: the strided convolution forward and its weight gradient, and
# the sub-pixel transposed convolution forward. XLA's own transposes (a strided
# conv's input gradient IS a transposed conv) are avoided.


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _fast_conv(x: Array, kernel: Array, stride: int, padding: int) -> Array:
  return _xla_conv(x, kernel, stride, padding)


def _fast_conv_fwd(x, kernel, stride, padding):
  return _xla_conv(x, kernel, stride, padding), (x, kernel)


# Below this many input channels XLA's own input gradient was faster (measured on
# DCGAN's first D layer: 3 channels 0.0053 s vs 0.0060 s; 1 channel 0.0009 vs 0.0021).
_MIN_CHANNELS_FOR_SUBPIXEL_GRAD = 16
# Up to this output size too (DCGAN D's last strided conv, 8x8 -> 4x4: 6.6 vs 8.8 ms
# at 8x8x128 -> 256, batch 64; `python -m jaxgan.bench --size=32 --channels=1 --conv-rates`).
_MAX_OUTPUT_FOR_XLA_GRAD = 4


def _fast_conv_bwd(stride, padding, residuals, dy):
  x, kernel = residuals
  if (
    kernel.shape[2] < _MIN_CHANNELS_FOR_SUBPIXEL_GRAD
    or max(dy.shape[1:3]) <= _MAX_OUTPUT_FOR_XLA_GRAD
  ):
    return jax.vjp(lambda x, k: _xla_conv(x, k, stride, padding), x, kernel)[1](dy)
  # When (H + 2p - k) % s != 0 the input is longer than the transpose's output:
  # PyTorch's output_padding restores the length.
  output_padding = x.shape[1] - transposed_output_size(
    dy.shape[1], kernel.shape[0], stride, padding
  )
  if x.shape[1] != x.shape[2]:
    raise ValueError(f"impl='fast' conv wants square inputs; got {x.shape}")
  dx = conv_transpose(
    dy,
    _swap_io(kernel),
    stride=stride,
    padding=padding,
    output_padding=output_padding,
    impl='subpixel',
  )
  (dk,) = jax.vjp(lambda k: _xla_conv(x, k, stride, padding), kernel)[1](dy)
  return dx.astype(x.dtype), dk.astype(kernel.dtype)


_fast_conv.defvjp(_fast_conv_fwd, _fast_conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _fast_conv_transpose(
  x: Array, kernel: Array, stride: int, padding: int, output_padding: int
) -> Array:
  return conv_transpose(
    x, kernel, stride=stride, padding=padding, output_padding=output_padding, impl='subpixel'
  )


def _fast_conv_transpose_fwd(x, kernel, stride, padding, output_padding):
  return _fast_conv_transpose(x, kernel, stride, padding, output_padding), (x, kernel)


def _fast_conv_transpose_bwd(stride, padding, output_padding, residuals, dy):
  del output_padding  # the strided conv of dy ignores the extra rows by itself
  x, kernel = residuals
  # y = conv^T(x) is the input gradient of conv(., K^T); so dx = conv(dy, K^T) and
  # dK is conv(dy, .)'s weight gradient with x as its output cotangent.
  dx = _xla_conv(dy, _swap_io(kernel), stride, padding)
  (dk,) = jax.vjp(lambda k: _xla_conv(dy, k, stride, padding), _swap_io(kernel))[1](x)
  return dx.astype(x.dtype), _swap_io(dk).astype(kernel.dtype)


_fast_conv_transpose.defvjp(_fast_conv_transpose_fwd, _fast_conv_transpose_bwd)


def minibatch_stddev(x: Array, group_size: int = 4) -> Array:
  """Appends one feature: the standard deviation across a group of examples (Karras et al. 2018).

  Examples are split into groups of `group_size` (the whole batch when it is
  smaller or does not divide); each example gets, as an extra channel, the
  mean over its features of the per-feature standard deviation within its
  group. A D that sees it can tell a batch of near-copies (a collapsed G)
  from a varied real batch. Works on `[B, F]` and `[B, H, W, C]` inputs.
  """
  n = x.shape[0]
  group = group_size if 0 < group_size <= n and n % group_size == 0 else n
  y = x.astype(jnp.float32).reshape(group, n // group, *x.shape[1:])  # [G, M, ...]
  std = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # [M, ...]
  std = jnp.mean(std.reshape(n // group, -1), axis=-1)  # [M]
  feature = jnp.tile(std, group)  # example i belongs to column i % M
  feature = feature.reshape(n, *([1] * (x.ndim - 1)))
  feature = jnp.broadcast_to(feature, (*x.shape[:-1], 1)).astype(x.dtype)
  return jnp.concatenate([x, feature], axis=-1)


def pack(x: Array, m: int) -> Array:
  """PacGAN packing: `[B, ..., C]` -> `[B / m, ..., m * C]`, m consecutive examples per row.

  Raises:
    ValueError: if the batch does not split into groups of `m`.
  """
  if m == 1:
    return x
  if x.shape[0] % m:
    raise ValueError(f'a batch of {x.shape[0]} does not pack into groups of {m} (PacGAN pack)')
  y = x.reshape(x.shape[0] // m, m, *x.shape[1:])
  return jnp.moveaxis(y, 1, -2).reshape(x.shape[0] // m, *x.shape[1:-1], m * x.shape[-1])


def spectral(layer: nn.Module, train: bool) -> Callable[[Array], Array]:
  """`layer` with spectrally normalised weights (Flax's `nn.SpectralNorm`, one power iteration).

  In training mode the power-iteration vector `u` and the estimate `sigma`
  are updated in the `batch_stats` collection (checkpointed with the player);
  in inference mode the stored `u` is used as is.
  """
  return lambda x: nn.SpectralNorm(layer)(x, update_stats=train)
