"""FIR resampling of NHWC images (`upfirdn2d`) and convolutions that resample through it.

`upfirdn2d` is the 2-D form of the classic polyphase operation (SciPy's
`scipy.signal.upfirdn`): per spatial axis, insert `up - 1` zeros after every
sample, pad (or crop, with negative padding), convolve with a FIR filter
keeping only the fully overlapping outputs, and keep every `down`-th sample.
With the binomial filter `[1, 3, 3, 1]` it gives the anti-aliased 2x up- and
down-sampling of StyleGAN2 (Karras et al. 2020); ADA's geometric augmentations
resample through it too.

The filter taps are compile-time constants and the filter is applied as a sum
of shifted (strided) slices times scalars: a handful of element-wise operations
that XLA fuses, differentiable, in the input's dtype (float32 or bfloat16).
"""

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan import layers

Array = jax.Array
Padding = int | Sequence[int] | Sequence[Sequence[int]]

BINOMIAL_TAPS = (1, 3, 3, 1)


def fir_filter(taps: Sequence[float] = BINOMIAL_TAPS) -> np.ndarray:
  """A separable FIR filter: `taps` normalised to sum to 1, float32 `[K]`.

  Applied along both axes, its 2-D form `outer(f, f)` sums to 1 as well, so a
  constant image stays constant (up to the gain).

  Raises:
    ValueError: on an empty filter or one whose taps sum to 0.
  """
  f = np.asarray(taps, np.float64)
  if f.ndim != 1 or f.size == 0 or f.sum() == 0:
    raise ValueError(f'a separable FIR filter wants 1-D taps with a non-zero sum; got {taps}')
  return (f / f.sum()).astype(np.float32)


def _pads(padding: Padding) -> tuple[tuple[int, int], tuple[int, int]]:
  """`padding` as `((top, bottom), (left, right))`."""
  if isinstance(padding, int):
    return (padding, padding), (padding, padding)
  padding = tuple(padding)
  if len(padding) == 2 and all(isinstance(p, int) for p in padding):
    return (padding[0], padding[1]), (padding[0], padding[1])
  if len(padding) == 2 and all(len(p) == 2 for p in padding):
    return (int(padding[0][0]), int(padding[0][1])), (int(padding[1][0]), int(padding[1][1]))
  raise ValueError(
    f'padding must be p, (before, after) or ((top, bottom), (left, right)); got {padding}'
  )


def _zero_insert(x: Array, factor: int, axis: int) -> Array:
  """`x` with `factor - 1` zeros after every sample along `axis` (length `L * factor`)."""
  if factor == 1:
    return x
  x = jnp.expand_dims(x, axis + 1)
  widths = [(0, 0)] * x.ndim
  widths[axis + 1] = (0, factor - 1)
  x = jnp.pad(x, widths)
  shape = list(x.shape)
  shape[axis : axis + 2] = [shape[axis] * factor]
  return x.reshape(shape)


def _pad_axis(x: Array, before: int, after: int, axis: int) -> Array:
  """Zero padding along `axis`; a negative width crops."""
  length = x.shape[axis]
  x = lax.slice_in_dim(x, max(-before, 0), length - max(-after, 0), axis=axis)
  widths = [(0, 0)] * x.ndim
  widths[axis] = (max(before, 0), max(after, 0))
  return jnp.pad(x, widths)


def _out_length(length: int, taps: int, down: int, axis: int) -> int:
  if length < taps:
    raise ValueError(
      f'upfirdn2d: axis {axis} is {length} samples after up-sampling and padding, shorter than '
      f'the {taps}-tap filter'
    )
  return (length - taps) // down + 1


def _convolve_axis(x: Array, taps: np.ndarray, down: int, axis: int) -> Array:
  """Valid convolution (the flipped filter slides) along `axis`, keeping every `down`-th output."""
  out = _out_length(x.shape[axis], taps.size, down, axis)
  flipped = taps[::-1]
  terms = [
    float(c) * lax.slice_in_dim(x, j, j + down * (out - 1) + 1, stride=down, axis=axis)
    for j, c in enumerate(flipped)
    if c != 0
  ]
  return functools.reduce(lambda a, b: a + b, terms)


def _convolve_2d(x: Array, taps: np.ndarray, down: int) -> Array:
  """Valid 2-D convolution with a `[Kh, Kw]` filter, keeping every `down`-th output."""
  out_h = _out_length(x.shape[1], taps.shape[0], down, 1)
  out_w = _out_length(x.shape[2], taps.shape[1], down, 2)
  flipped = taps[::-1, ::-1]
  terms = [
    float(flipped[i, j])
    * x[:, i : i + down * (out_h - 1) + 1 : down, j : j + down * (out_w - 1) + 1 : down]
    for i in range(taps.shape[0])
    for j in range(taps.shape[1])
    if flipped[i, j] != 0
  ]
  return functools.reduce(lambda a, b: a + b, terms)


def upfirdn2d(
  x: Array,
  filt: np.ndarray | Sequence[float] | None = None,
  *,
  up: int = 1,
  down: int = 1,
  padding: Padding = 0,
  gain: float = 1.0,
) -> Array:
  """Up-samples, pads, FIR-filters and down-samples images along both spatial axes.

  Per axis, equivalent to `scipy.signal.upfirdn(f, x, up)` restricted to a
  window and then strided by `down`: output sample `n` is sample
  `n * down + K - 1 - before` of SciPy's full output (zero outside it).

  Args:
    x: images `[B, H, W, C]`, float32 or bfloat16.
    filt: a separable filter `[K]` (applied along H, then W; e.g. `fir_filter()`) or a
      2-D filter `[Kh, Kw]`; None: `fir_filter()` (the normalised `[1, 3, 3, 1]`).
      Static: taps are compile-time constants.
    up: up-sampling factor (zeros inserted after each sample).
    down: down-sampling factor (every `down`-th output kept).
    padding: zero padding of the up-sampled signal: `p`, `(before, after)` for both axes,
      or `((top, bottom), (left, right))`; negative values crop.
    gain: overall gain of the filter; `up**2` keeps the mean of an up-sampled image.

  Returns:
    `[B, H', W', C]` in `x.dtype`, `H' = (H * up + top + bottom - Kh) // down + 1`
    (likewise `W'`).

  Raises:
    ValueError: on a bad rank, factor or filter, or an axis shorter than the filter.
  """
  if x.ndim != 4:
    raise ValueError(f'upfirdn2d wants images [B, H, W, C]; got {x.shape}')
  if up < 1 or down < 1:
    raise ValueError(f'upfirdn2d wants up, down >= 1; got up={up}, down={down}')
  taps = fir_filter() if filt is None else np.asarray(filt, np.float32)
  if taps.ndim not in (1, 2) or taps.size == 0:
    raise ValueError(f'upfirdn2d wants a filter [K] or [Kh, Kw]; got shape {taps.shape}')
  (top, bottom), (left, right) = _pads(padding)
  for axis, (before, after) in ((1, (top, bottom)), (2, (left, right))):
    x = _pad_axis(_zero_insert(x, up, axis), before, after, axis)
  if taps.ndim == 2:
    return _convolve_2d(x, taps * np.float32(gain), down)
  x = _convolve_axis(x, taps * np.float32(gain), down, axis=1)
  return _convolve_axis(x, taps, down, axis=2)


def _filter_size(filt) -> int:
  taps = fir_filter() if filt is None else np.asarray(filt)
  if taps.ndim == 2 and taps.shape[0] != taps.shape[1]:
    raise ValueError(f'resampling wants a square 2-D filter; got {taps.shape}')
  return taps.shape[0]


def upsample2d(x: Array, filt=None, *, factor: int = 2) -> Array:
  """`[B, H, W, C]` -> `[B, H * factor, W * factor, C]`: zeros inserted, then FIR-filtered.

  The gain `factor**2` keeps the image's mean; the output is centred on the
  input (with `[1, 3, 3, 1]`: each output is 3/4 of its nearest input sample and
  1/4 of the next, per axis).
  """
  k = _filter_size(filt)
  pad = ((k + factor - 1) // 2, (k - factor) // 2)
  return upfirdn2d(x, filt, up=factor, padding=pad, gain=factor**2)


def downsample2d(x: Array, filt=None, *, factor: int = 2) -> Array:
  """`[B, H, W, C]` -> `[B, H / factor, W / factor, C]`: FIR-filtered, then every `factor`-th
  sample kept (anti-aliased; with `[1, 3, 3, 1]` a blur before the decimation)."""
  k = _filter_size(filt)
  pad = ((k - factor + 1) // 2, (k - factor) // 2)
  return upfirdn2d(x, filt, down=factor, padding=pad)


# ---------------------------------------------------------------------------
# Convolutions that resample
# ---------------------------------------------------------------------------

_DIMS = ('NHWC', 'HWIO', 'NHWC')


def _grouped_conv(
  x: Array, kernel: Array, stride: int, padding: int, groups: int, impl: str = 'fast'
) -> Array:
  """`lax.conv_general_dilated` with `feature_group_count=groups`, in the form `impl` names.

  'xla' is XLA's grouped convolution. 'fast' and 'patches' are batched matmuls over
  the groups, which XLA:CPU runs and differentiates 5-10x faster than its grouped
  convolution (the weight gradient above all): 'fast' sums one matmul per kernel tap
  (no copy of the input per tap), 'patches' concatenates the k * k shifted inputs
  and does one matmul (k * k times the input's memory, a little faster on CPU).
  """
  if impl == 'xla':
    return lax.conv_general_dilated(
      x,
      kernel,
      (stride, stride),
      [(padding, padding)] * 2,
      dimension_numbers=_DIMS,
      feature_group_count=groups,
    )
  if impl not in layers.CONV_IMPLS:
    raise ValueError(f'unknown conv impl {impl!r}; known: {", ".join(layers.CONV_IMPLS)}')
  k, _, per_group, c_out = kernel.shape
  n = x.shape[0]
  x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  out_h, out_w = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
  x = x.reshape(*x.shape[:3], groups, per_group)
  kernel = kernel.reshape(k, k, per_group, groups, c_out // groups)
  taps = [
    x[:, i : i + stride * (out_h - 1) + 1 : stride, j : j + stride * (out_w - 1) + 1 : stride]
    for i in range(k)
    for j in range(k)
  ]
  if impl == 'patches':
    kernel = kernel.transpose(3, 0, 1, 2, 4).reshape(groups, k * k * per_group, -1)
    y = jnp.einsum('nhwgp,gpo->nhwgo', jnp.concatenate(taps, axis=-1), kernel)
  else:
    kernel = kernel.reshape(k * k, per_group, groups, -1)
    y = sum(jnp.einsum('nhwgi,igo->nhwgo', tap, kernel[t]) for t, tap in enumerate(taps))
  return y.reshape(n, out_h, out_w, c_out)


def _grouped_conv_transpose2x(x: Array, kernel: Array, groups: int, impl: str) -> Array:
  """Full stride-2 transposed convolution, `y[2i + t] += x[i] @ kernel[t]`, in sub-pixel form.

  `kernel` `[k, k, I / groups, O]` (scatter form). The four output phases are
  one stride-1 grouped convolution with `4 * O` outputs, interleaved after:
  no zero-inserted input, which XLA:CPU differentiates slowly.

  Returns:
    `[B, 2 (H - 1) + k, 2 (W - 1) + k, O]`.
  """
  k, _, c_in, c_out = kernel.shape
  m = -(-k // 2)  # taps per phase
  kernel = jnp.pad(kernel, ((0, 2 * m - k), (0, 2 * m - k), (0, 0), (0, 0)))
  # Tap t = 2 j + phase; output 2 q + phase sums x[q - j] @ kernel[2 j + phase].
  kernel = kernel.reshape(m, 2, m, 2, c_in, groups, c_out // groups)
  kernel = jnp.flip(kernel, axis=(0, 2))  # correlation form
  # Output channels group-major, as a grouped convolution splits them: [G, 2, 2, O / G].
  kernel = kernel.transpose(0, 2, 4, 5, 1, 3, 6).reshape(m, m, c_in, 4 * c_out)
  b, h, w, _ = x.shape
  # [B, H + m - 1, W + m - 1, G * 2 * 2 * O / G]
  y = _grouped_conv(x, kernel, 1, m - 1, groups, impl)
  qh, qw = y.shape[1:3]
  y = y.reshape(b, qh, qw, groups, 2, 2, c_out // groups).transpose(0, 1, 4, 2, 5, 3, 6)
  y = y.reshape(b, 2 * qh, 2 * qw, c_out)
  full = 2 * (h - 1) + k
  return y[:, :full, :full]


def conv2d_resample(
  x: Array,
  kernel: Array,
  *,
  up: int = 1,
  down: int = 1,
  groups: int = 1,
  filt=None,
  impl: str = 'fast',
) -> Array:
  """Same-size convolution, optionally 2x up- or down-sampling through the FIR filter.

  Away from the border it equals `conv(upsample2d(x), kernel)` for `up=2` and
  `downsample2d(conv(x, kernel))` for `down=2` (`conv`: stride 1, zero 'same'
  padding, cross-correlation). At the border the convolution and the filter see
  each other's full outputs instead of a zero-padded crop; exactly, with
  `r = (k - 1) // 2` and the `[1, 3, 3, 1]` filter:
  `up=2`: `conv(upfirdn2d(x, up=2, padding=(2 + r, 1 + r), gain=4), kernel, padding=0)`;
  `down=2`: `upfirdn2d(conv(x, kernel, padding=1 + r), down=2)`.
  Both are computed at the low resolution: a stride-2 transposed convolution
  then the filter, or the filter then a stride-2 convolution (a quarter of the
  multiply-adds of convolving at the high resolution).

  Args:
    x: `[B, H, W, I]`.
    kernel: `[k, k, I / groups, O]`, `k` odd (cross-correlation form).
    up: 1 or 2.
    down: 1 or 2 (not both 2).
    groups: feature groups (`lax.conv_general_dilated`'s `feature_group_count`).
    filt: the resampling filter (None: `[1, 3, 3, 1]`).
    impl: for `groups=1`, the `jaxgan.layers` convolution: 'fast' (custom gradients
      that XLA:CPU computes well), 'xla' or 'patches'; for `groups > 1`, 'xla' (XLA's
      grouped convolution) or batched matmuls ('fast': one per kernel tap,
      'patches': one over the concatenated taps; see `_grouped_conv`).

  Returns:
    `[B, H * up / down, W * up / down, O]`.

  Raises:
    ValueError: on an even kernel or unsupported factors.
  """
  k = kernel.shape[0]
  if k % 2 == 0 or kernel.shape[1] != k:
    raise ValueError(f'conv2d_resample wants an odd square kernel; got {kernel.shape}')
  if up not in (1, 2) or down not in (1, 2) or up * down == 4:
    raise ValueError(f'conv2d_resample resamples by 2 one way; got up={up}, down={down}')
  taps = _filter_size(filt)
  if up == 2:
    # conv(upsample(x)) = filter(conv_transpose(x, flipped kernel)) with the crops below.
    flipped = jnp.flip(kernel, axis=(0, 1))
    if groups == 1:
      y = layers.conv_transpose(x, flipped, stride=2, padding=0, impl=impl)
    else:
      y = _grouped_conv_transpose2x(x, flipped, groups, impl)
    before = (taps + 1) // 2 - (k - 1) // 2
    return upfirdn2d(y, filt, padding=(before, taps + 1 - k - before), gain=4)
  if down == 2:
    before = (taps - 1) // 2 + (k - 1) // 2
    x = upfirdn2d(x, filt, padding=(before, (taps - 2) // 2 + (k - 1) // 2))
    if groups == 1:
      return layers.conv(x, kernel, stride=2, padding=0, impl=impl)
    return _grouped_conv(x, kernel, 2, 0, groups, impl)
  if groups == 1:
    return layers.conv(x, kernel, stride=1, padding=k // 2, impl=impl)
  return _grouped_conv(x, kernel, 1, k // 2, groups, impl)
