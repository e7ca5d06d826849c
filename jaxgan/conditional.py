"""The class-conditional toolkit of BigGAN (Brock et al. 2019), usable in any model.

- `ConditionalBatchNorm`: BatchNorm whose gain and bias are linear functions
  of a per-example conditioning vector (a class embedding, a latent chunk).
- `SelfAttention`: the SAGAN block (Zhang et al. 2019) with a learned gate
  that starts at 0, so a network begins as if the block were not there.
- `orthogonal_regularisation`: BigGAN's off-diagonal orthogonality penalty,
  a pure function of a params tree.
- `truncated_normal_resample` / `resample_beyond`: the truncation trick's
  latents, every component beyond the threshold redrawn.

Weights use orthogonal initialisation (`ORTHOGONAL`, JAX's own initialiser),
as BigGAN's reference code does for every convolution, linear map and embedding.
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers

Array = jax.Array
PyTree = Any

# `init.orthogonal_` of a PyTorch `[out, in * k * k]` weight: JAX's initialiser makes the
# `[k * k * in, out]` reshape of a flax kernel orthonormal, the same constraint transposed.
ORTHOGONAL = jax.nn.initializers.orthogonal()


def _maybe_spectral(layer: nn.Module, spectral_norm: bool, train: bool):
  return layers.spectral(layer, train) if spectral_norm else layer


class ConditionalBatchNorm(nn.Module):
  """BatchNorm with a per-example affine computed from a conditioning vector.

  `y = BN(x) * (1 + cond @ W_gain) + cond @ W_bias`, where `BN` normalises
  with the batch statistics in training (and updates the running averages in
  `batch_stats`, as `nn.BatchNorm` does) and with the running averages
  otherwise; it has no affine of its own. The "1 +" makes a zero map the
  identity gain. With a one-hot `cond` the rows of `W_gain + 1` and `W_bias`
  are per-class gains and biases (de Vries et al. 2017); BigGAN feeds the
  concatenation of a shared class embedding and a chunk of z.

  Attributes:
    momentum: decay of the running averages (flax convention: 0.9 is PyTorch's 0.1).
    epsilon: added to the variance.
    spectral_norm: spectrally normalise the two linear maps (BigGAN's G does).
    use_bias: give the two linear maps a bias (BigGAN's have none).
    axis_name: the pmap axis to average the batch statistics over (cross-device BatchNorm).
    dtype: compute dtype (None: from the inputs); parameters stay float32.
    kernel_init: initialiser of the linear maps (orthogonal).
  """

  momentum: float = 0.9
  epsilon: float = 1e-5
  spectral_norm: bool = False
  use_bias: bool = False
  axis_name: str | None = None
  dtype: Any = None
  kernel_init: Any = ORTHOGONAL

  @nn.compact
  def __call__(self, x: Array, cond: Array, train: bool = True) -> Array:
    """Normalises `x` and applies each example's gain and bias.

    Args:
      x: `[B, ..., C]` features (`[B, H, W, C]` or `[B, C]`).
      cond: `[B, D]` conditioning vectors.
      train: batch statistics (and running-average updates) if True, else the running averages.

    Returns:
      `[B, ..., C]`, the dtype of the computation.

    Raises:
      ValueError: if `cond` is not `[B, D]` with the batch of `x`.
    """
    if cond.ndim != 2 or cond.shape[0] != x.shape[0]:
      raise ValueError(
        f'ConditionalBatchNorm wants cond [B, D] with B = {x.shape[0]}; got {cond.shape}'
      )
    features = x.shape[-1]
    y = nn.BatchNorm(
      use_running_average=not train,
      momentum=self.momentum,
      epsilon=self.epsilon,
      use_bias=False,
      use_scale=False,
      axis_name=self.axis_name,
      dtype=self.dtype,
      name='bn',
    )(x)
    linear = lambda name: _maybe_spectral(
      nn.Dense(
        features,
        use_bias=self.use_bias,
        dtype=self.dtype,
        kernel_init=self.kernel_init,
        name=name,
      ),
      self.spectral_norm,
      train,
    )
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
    gain = 1.0 + linear('gain')(cond).reshape(shape)
    bias = linear('bias')(cond).reshape(shape)
    return y * gain.astype(y.dtype) + bias.astype(y.dtype)


class SelfAttention(nn.Module):
  """Self-attention over spatial positions (SAGAN), gated: `x + gamma * attention(x)`.

  With `C` input channels: query `f = x W_f` and key `g = x W_g` have `C / 8`
  channels, value `h = x W_h` has `C / 2` (1x1 convolutions without bias).
  Each query position attends to the key positions with
  `softmax_j(f_i . g_j)`, the softmax over positions; the attended values go
  through a 1x1 convolution `W_o` back to `C` channels and are scaled by the
  learned scalar `gamma`, initialised at 0 (so the block starts as the
  identity and the network learns how much non-local evidence to use).

  `pool=True` (BigGAN's and StudioGAN's block) max-pools keys and values 2x2,
  so each of the `H W` queries attends to `H W / 4` positions: 4x less memory
  and compute in the attention matrix. `pool=False` is the SAGAN paper's
  block (every position attends to every position).

  Attributes:
    pool: max-pool keys and values 2x2 (needs even `H` and `W`).
    spectral_norm: spectrally normalise the four convolutions (BigGAN's G and D do).
    conv_impl: see `jaxgan.layers.conv`.
    dtype: compute dtype (None: from the inputs); the softmax is computed in float32.
    kernel_init: initialiser of the convolutions (orthogonal).
  """

  pool: bool = True
  spectral_norm: bool = True
  conv_impl: str = 'xla'
  dtype: Any = None
  kernel_init: Any = ORTHOGONAL

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> Array:
    """Attends over the spatial positions of `x`.

    Args:
      x: `[B, H, W, C]` features, `C` a multiple of 8.
      train: update the spectral norms' power-iteration state (`batch_stats`).

    Returns:
      `[B, H, W, C]`.

    Raises:
      ValueError: on a bad rank, `C` not a multiple of 8, or odd `H`/`W` with `pool`.
    """
    if x.ndim != 4:
      raise ValueError(f'SelfAttention wants [B, H, W, C]; got {x.shape}')
    b, h, w, c = x.shape
    if c % 8:
      raise ValueError(f'SelfAttention wants channels divisible by 8 (C/8 queries); got {c}')
    if self.pool and (h % 2 or w % 2):
      raise ValueError(f'SelfAttention with pool=True wants even H and W; got {h}x{w}')

    def conv(features, name):
      layer = layers.Conv(
        features,
        1,
        use_bias=False,
        impl=self.conv_impl,
        dtype=self.dtype,
        kernel_init=self.kernel_init,
        name=name,
      )
      return _maybe_spectral(layer, self.spectral_norm, train)

    query = conv(c // 8, 'query')(x)
    key = conv(c // 8, 'key')(x)
    value = conv(c // 2, 'value')(x)
    if self.pool:
      key = nn.max_pool(key, (2, 2), strides=(2, 2))
      value = nn.max_pool(value, (2, 2), strides=(2, 2))
    query = query.reshape(b, h * w, c // 8)
    key = key.reshape(b, -1, c // 8)
    value = value.reshape(b, -1, c // 2)
    logits = jnp.einsum('bnc,bmc->bnm', query, key)
    attention = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(value.dtype)
    attended = jnp.einsum('bnm,bmc->bnc', attention, value).reshape(b, h, w, c // 2)
    out = conv(c, 'out')(attended)
    gamma = self.param('gamma', nn.initializers.zeros_init(), (), jnp.float32)
    return x + gamma.astype(out.dtype) * out


def orthogonal_regularisation(
  params: PyTree, *, strength: float = 1e-4, exclude: Sequence[str] = ('embed',)
) -> Array:
  """BigGAN's orthogonal regularisation: `strength * sum_W 0.5 ||W W^T * (1 - I)||_F^2`.

  Each weight with two or more axes is read as the matrix `W [out, -1]`, `out`
  its last axis (flax's kernels are `[..., in, out]`; this is the `[out, in k k]`
  view BigGAN takes of a PyTorch weight), so the penalty drives the filters of
  a layer towards mutual orthogonality without constraining their norms (the
  diagonal of `W W^T` is masked out). Vectors and scalars (biases, BatchNorm
  scales, attention gates) are skipped, as is any weight whose path contains
  one of `exclude` (case-insensitive; by default the class embeddings).

  The factor 0.5 makes the gradient the one BigGAN adds to each weight:
  with `A = W W^T * (1 - I)` (symmetric), `d ||A||_F^2 = 2 <A, dW W^T + W dW^T>
  = 4 <A W, dW>`, so `grad = strength * 2 (W W^T * (1 - I)) W`.

  Args:
    params: a params tree (e.g. `state.g.params`).
    strength: the coefficient (BigGAN's 1e-4).
    exclude: substrings of the paths of weights to leave out.

  Returns:
    A float32 scalar, to add to a loss.

  >>> w = jnp.array([[1.0, 1.0], [1.0, 0.0]])  # [in, out]: columns are the filters
  >>> float(orthogonal_regularisation({'dense': {'kernel': w}}, strength=1.0))
  1.0
  """
  excluded = tuple(e.lower() for e in exclude)
  total = jnp.zeros((), jnp.float32)
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    if jnp.ndim(leaf) < 2:
      continue
    name = jax.tree_util.keystr(path, simple=True, separator='/').lower()
    if any(e in name for e in excluded):
      continue
    w = jnp.moveaxis(jnp.asarray(leaf, jnp.float32), -1, 0)
    w = w.reshape(w.shape[0], -1)
    gram = w @ w.T
    off_diagonal = gram * (1.0 - jnp.eye(gram.shape[0], dtype=gram.dtype))
    total = total + 0.5 * jnp.sum(off_diagonal**2)
  return strength * total


def _check_threshold(threshold) -> None:
  if isinstance(threshold, int | float) and not threshold > 0:
    raise ValueError(f'the truncation threshold must be > 0; got {threshold}')


def truncated_normal_resample(
  rng: Array, shape: Sequence[int], threshold: float, dtype: Any = jnp.float32
) -> Array:
  """`z ~ N(0, I)` with every component beyond `|threshold|` redrawn until inside.

  Redrawing a component until it lands in `[-t, t]` gives it the standard
  normal law conditioned on `|z| <= t`: the truncated normal distribution,
  independently per component. `jax.random.truncated_normal` samples exactly
  that law (inverse CDF of a uniform on `[Phi(-t), Phi(t)]`) in one pass, with
  no loop and a fixed cost however small `t` is; its output is clipped to the
  open interval, so no component is ever beyond the threshold.

  Args:
    rng: a key.
    shape: output shape, e.g. `[B, latent_dim]`.
    threshold: `t > 0` (BigGAN samples with t from 0.04 to 2).
    dtype: a float dtype.

  Returns:
    `shape` samples in `(-threshold, threshold)`.

  Raises:
    ValueError: if a concrete `threshold` is not positive.
  """
  _check_threshold(threshold)
  return jax.random.truncated_normal(rng, -threshold, threshold, tuple(shape), dtype)


def resample_beyond(z: Array, rng: Array, threshold: float) -> Array:
  """Redraws the components of an existing `z` beyond `|threshold|`; the others are kept.

  Each out-of-range component gets a fresh draw from the normal law
  truncated to `[-t, t]`, which is the law of redrawing it from N(0, 1)
  until it is inside (see `truncated_normal_resample`). Components with
  `|z| <= threshold` are returned bit-identical.

  Args:
    z: latents of any shape (float).
    rng: a key.
    threshold: `t > 0`.

  Returns:
    Latents of `z`'s shape and dtype, all within `[-threshold, threshold]`.

  Raises:
    ValueError: if a concrete `threshold` is not positive.
  """
  _check_threshold(threshold)
  fresh = jax.random.truncated_normal(rng, -threshold, threshold, z.shape, z.dtype)
  return jnp.where(jnp.abs(z) > threshold, fresh, z)
