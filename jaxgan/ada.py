"""Adaptive discriminator augmentation (ADA, Karras et al. 2020): the `bgc` pipeline and its p.

StyleGAN2-ADA ("Training generative adversarial networks with limited data") shows D every
image, real and generated, through one random, differentiable augmentation pipeline. Each
transformation is applied to each example independently with probability `p`; as long as
`p` stays below about 0.8 the augmentations do not leak into G's images. `p` is not tuned
by hand: a controller raises it while D overfits (its outputs on real images become too
confidently positive) and lowers it otherwise.

Written from the paper's description (its appendix lists the transformations, their
distributions and probabilities); the reference implementation's licence is non-commercial
and none of its code is used here.

The pipeline (`augment`, images `[B, H, W, C]` in [-1, 1]), in the paper's order:

- Pixel blitting (`b`), pixel-exact, as one integer index map per example:
  `xflip` (i ~ U{0, 1}), `rotate90` (quarter turns i ~ U{0, 1, 2, 3}; square images
  only), `xint` (integer translation t ~ U(-XINT_MAX, XINT_MAX) of the size per axis,
  rounded to pixels). Pixels moved in from outside are mirrored ('reflect' padding: the
  edge pixel is not repeated).
- General geometric (`g`), composed into one 3x3 affine matrix per example and applied once:
  isotropic scaling (s = 2^N(0, SCALE_STD^2)), pre-rotation (theta ~ U(-pi, pi) x
  ROTATE_MAX), anisotropic scaling (x by a, y by 1/a, a = 2^N(0, ANISO_STD^2)),
  post-rotation, fractional translation (t ~ N(0, XFRAC_STD^2) of the size per axis). Each
  rotation is applied with probability 1 - sqrt(1 - p), so that "some rotation" has
  probability p, as in the paper. Resampling: bilinear (4 gathers, weights from the
  fractional source coordinates) with mirrored ('reflect') coordinates outside the image.
  Unlike the reference, there is no 2x oversampling with a wavelet low-pass filter, so a
  strong downscale aliases a little more.
- Colour (`c`), composed into one 4x4 matrix per example acting on homogeneous RGB (mid-grey,
  0, is the origin; the luma axis is v = (1, 1, 1) / sqrt(3)): `brightness` (add
  b ~ N(0, BRIGHTNESS_STD^2)), `contrast` (multiply by 2^N(0, CONTRAST_STD^2)), `lumaflip`
  (I - 2 v v^T i, i ~ U{0, 1}), `hue` (rotation about v by theta ~ U(-pi, pi) x HUE_MAX),
  `saturation` (scale the part orthogonal to v by 2^N(0, SATURATION_STD^2)). A 1-channel
  image is read as grey RGB (g, g, g) and gets brightness, contrast and luma flip only (hue
  and saturation leave grey unchanged).

Any subset runs through `pipe`: group letters (`'bgc'`, `'bg'`, `'c'`) and/or transformation
names, comma-separated (`'xflip,rotate90'`, `'b,hue'`).

p = 0 is the identity bit for bit, and p may be traced (it lives in the game state): a
transformation that is not drawn gets its identity parameter (no flip, zero shift, unit
matrix); blitting is then a gather at the identity indices (an exact copy), and the geometric
and colour groups select the input per example where their matrix is the identity, so no
arithmetic touches an untransformed example (-0.0 stays -0.0). The gradient reaches the
images through every transformation (gathers and products with constants), so G is trained
through D's augmentation.

The controller (`ada_stats`, `update_p`, `AdaState`, `ada_step`), the paper's heuristic
r_t = E[sign(D_train)], D's outputs on (augmented) real training images averaged over
`interval` steps: every `interval` steps p += sign(r_t - target) * batch_size * interval /
(speed_kimg * 1000), clamped to [0, 1] (p can then go from 0 to 1 in `speed_kimg` thousand
images). The reference clamps only below, at 0; here p is also clamped above, at 1, where
every transformation is already always applied. `target=None` is the fixed-p mode.

Use in a train step: augment the reals and the fakes D sees (in D's update, G's update and
for R1) with the same `p` and independent keys (`jax.random.split` of the step key). Keep
an `AdaState` in the game state (`GANState.extra['ada']`), so that p and r_t's accumulator
are checkpointed and resume exactly; after D's update, `ada_step(state.extra['ada'],
real_logits, ...)` with D's logits on the augmented reals. A fixed p is `AdaState.create(p)`
with `target=None`.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

Array = jax.Array

# Strengths (the paper's appendix; the same as the reference's defaults).
XINT_MAX = 0.125  # Integer translation: U(-0.125, 0.125) of the image size per axis.
SCALE_STD = 0.2  # Isotropic scaling: 2^N(0, 0.2^2), i.e. Lognormal(0, (0.2 ln 2)^2).
ROTATE_MAX = 1.0  # Arbitrary rotation: U(-1, 1) x pi.
ANISO_STD = 0.2  # Anisotropic scaling: 2^N(0, 0.2^2).
XFRAC_STD = 0.125  # Fractional translation: N(0, 0.125^2) of the image size per axis.
BRIGHTNESS_STD = 0.2  # Brightness: + N(0, 0.2^2).
CONTRAST_STD = 0.5  # Contrast: x 2^N(0, 0.5^2).
HUE_MAX = 1.0  # Hue rotation: U(-1, 1) x pi about the luma axis.
SATURATION_STD = 1.0  # Saturation: x 2^N(0, 1^2) orthogonal to the luma axis.

# The controller (the paper's defaults).
ADA_TARGET = 0.6
ADA_INTERVAL = 4
ADA_KIMG = 500

BLIT = ('xflip', 'rotate90', 'xint')
GEOM = ('scale', 'rotate', 'aniso', 'xfrac')
COLOR = ('brightness', 'contrast', 'lumaflip', 'hue', 'saturation')
TRANSFORMS = BLIT + GEOM + COLOR
GROUPS = {'b': BLIT, 'g': GEOM, 'c': COLOR}

_HIGHEST = jax.lax.Precision.HIGHEST
# Colour constants on homogeneous RGB (NumPy: no JAX work on import).
_LUMA = np.array([1.0, 1.0, 1.0, 0.0], np.float32) / np.float32(math.sqrt(3.0))
_LUMA_OUTER = np.outer(_LUMA, _LUMA)  # Projection onto the luma axis.
_CHROMA = np.diag(np.array([1.0, 1.0, 1.0, 0.0], np.float32)) - _LUMA_OUTER
_LUMA_CROSS = _LUMA[0] * np.array(  # v x (.), the generator of rotations about v.
  [[0, -1, 1, 0], [1, 0, -1, 0], [-1, 1, 0, 0], [0, 0, 0, 0]], np.float32
)


def parse_pipe(pipe: str) -> tuple[str, ...]:
  """The transformations `pipe` names, in the pipeline's order.

  Args:
    pipe: comma-separated tokens, each group letters (`'bgc'`, `'b'`) or a name from
      `TRANSFORMS`; `''` is the identity.

  Returns:
    The names, in the order of `TRANSFORMS`.

  Raises:
    ValueError: for an unknown token.
  """
  names = set()
  for token in (t.strip() for t in pipe.split(',')):
    if token in TRANSFORMS:
      names.add(token)
    elif token and set(token) <= set(GROUPS):
      for letter in token:
        names.update(GROUPS[letter])
    elif token:
      raise ValueError(
        f'unknown ADA pipe element {token!r}; known: group letters {"".join(GROUPS)} '
        f'(e.g. bgc) and transformations {", ".join(TRANSFORMS)}'
      )
  return tuple(n for n in TRANSFORMS if n in names)


def _gate(rng: Array, batch: int, prob: Array) -> Array:
  """`[B]` bool: which examples get a transformation of probability `prob`."""
  return jax.random.uniform(rng, (batch,)) < prob


def _draw(rng: Array, name: str, count: int = 2) -> Array:
  """Keys of one transformation, independent of which others the pipe holds."""
  return jax.random.split(jax.random.fold_in(rng, TRANSFORMS.index(name)), count)


def _mirror(index: Array, size: int) -> Array:
  """Integer indices reflected into [0, size) without repeating the edge ('reflect' padding)."""
  if size == 1:
    return jnp.zeros_like(index)
  period = 2 * (size - 1)
  index = jnp.mod(index, period)
  return jnp.where(index >= size, period - index, index)


def _gather(images: Array, rows: Array, cols: Array) -> Array:
  """`images[b, rows[b], cols[b], :]`: `[B, H, W, C]` from `[B, H, W]` integer indices."""
  batch = jnp.arange(images.shape[0])[:, None, None]
  return images[batch, rows, cols]


def _blit(images: Array, rng: Array, p: Array, names: tuple[str, ...]) -> Array:
  """x-flip, then quarter turns, then integer translation, as one exact gather per example."""
  b, h, w, _ = images.shape
  rows = jnp.broadcast_to(jnp.arange(h)[None, :, None], (b, h, w))
  cols = jnp.broadcast_to(jnp.arange(w)[None, None, :], (b, h, w))
  # Source pixel of each output pixel: the inverse maps, last transformation first.
  if 'xint' in names:
    gate_rng, value_rng = _draw(rng, 'xint')
    gate = _gate(gate_rng, b, p)[:, None]
    t = jax.random.uniform(value_rng, (b, 2), minval=-XINT_MAX, maxval=XINT_MAX)
    t = jnp.where(gate, jnp.round(t * jnp.array([h, w])).astype(jnp.int32), 0)
    rows = _mirror(rows - t[:, 0, None, None], h)
    cols = _mirror(cols - t[:, 1, None, None], w)
  if 'rotate90' in names:
    if h != w:
      raise ValueError(f'rotate90 needs square images, got {h}x{w}; leave it out of the pipe')
    gate_rng, value_rng = _draw(rng, 'rotate90')
    k = jax.random.randint(value_rng, (b,), 0, 4)
    k = jnp.where(_gate(gate_rng, b, p), k, 0)[:, None, None]
    # np.rot90(image, k): a quarter turn counter-clockwise as displayed, k times.
    rows, cols = (
      jnp.select([k == 1, k == 2, k == 3], [cols, h - 1 - rows, w - 1 - cols], rows),
      jnp.select([k == 1, k == 2, k == 3], [w - 1 - rows, w - 1 - cols, rows], cols),
    )
  if 'xflip' in names:
    gate_rng, value_rng = _draw(rng, 'xflip')
    flip = _gate(gate_rng, b, p) & jax.random.bernoulli(value_rng, 0.5, (b,))
    cols = jnp.where(flip[:, None, None], w - 1 - cols, cols)
  return _gather(images, rows, cols)


def _scaling(sx: Array, sy: Array) -> Array:
  """`[B, 3, 3]`: diag(sx, sy, 1), exactly the identity where sx = sy = 1."""
  ex, ey = np.diag(np.array([1, 0, 0], np.float32)), np.diag(np.array([0, 1, 0], np.float32))
  return jnp.eye(3, dtype=jnp.float32) + (sx - 1)[:, None, None] * ex + (sy - 1)[:, None, None] * ey


def _rotation(theta: Array) -> Array:
  """`[B, 3, 3]`: rotation by `theta` of (x, y) coordinates, exactly I where theta = 0."""
  c, s = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
  plane = np.diag(np.array([1, 1, 0], np.float32))
  turn = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 0]], np.float32)
  return jnp.eye(3, dtype=jnp.float32) + (c - 1) * plane + s * turn


def _translation(tx: Array, ty: Array) -> Array:
  """`[B, 3, 3]`: translation by (tx, ty) pixels."""
  shift = np.zeros((2, 3, 3), np.float32)
  shift[0, 0, 2] = shift[1, 1, 2] = 1
  return jnp.eye(3, dtype=jnp.float32) + tx[:, None, None] * shift[0] + ty[:, None, None] * shift[1]


def geometric_matrix(rng: Array, p: Array, shape: tuple[int, ...], names=GEOM) -> Array:
  """The inverse geometric transformations: output pixel -> source pixel.

  Args:
    rng: the pipeline's key (the same as `augment`'s).
    p: augmentation probability, a scalar in [0, 1].
    shape: the images' shape `[B, H, W, C]`.
    names: which of `GEOM` to draw; the others stay the identity.

  Returns:
    `[B, 3, 3]` matrices acting on (x, y, 1) pixel coordinates relative to the image
    centre (x along W, y along H): the inverse of scale, then pre-rotation, anisotropic
    scale, post-rotation and fractional translation, for `warp`.
  """
  b, h, w = shape[:3]
  p = jnp.asarray(p, jnp.float32)
  p_rot = 1 - jnp.sqrt(jnp.maximum(1 - p, 0))  # 1 - (1 - p_rot)^2 = p: some rotation
  inverse = jnp.broadcast_to(jnp.eye(3, dtype=jnp.float32), (b, 3, 3))
  steps = []  # Inverse of each forward step, in the forward order.
  if 'scale' in names:
    gate_rng, value_rng = _draw(rng, 'scale')
    s = jnp.exp2(jax.random.normal(value_rng, (b,)) * SCALE_STD)
    s = jnp.where(_gate(gate_rng, b, p), s, 1.0)
    steps.append(_scaling(1 / s, 1 / s))
  rotations = _draw(rng, 'rotate', 4) if 'rotate' in names else None
  if rotations is not None:
    theta = jax.random.uniform(rotations[1], (b,), minval=-1, maxval=1) * (ROTATE_MAX * np.pi)
    steps.append(_rotation(-jnp.where(_gate(rotations[0], b, p_rot), theta, 0.0)))
  if 'aniso' in names:
    gate_rng, value_rng = _draw(rng, 'aniso')
    a = jnp.exp2(jax.random.normal(value_rng, (b,)) * ANISO_STD)
    a = jnp.where(_gate(gate_rng, b, p), a, 1.0)
    steps.append(_scaling(1 / a, a))
  if rotations is not None:
    theta = jax.random.uniform(rotations[3], (b,), minval=-1, maxval=1) * (ROTATE_MAX * np.pi)
    steps.append(_rotation(-jnp.where(_gate(rotations[2], b, p_rot), theta, 0.0)))
  if 'xfrac' in names:
    gate_rng, value_rng = _draw(rng, 'xfrac')
    t = jax.random.normal(value_rng, (b, 2)) * XFRAC_STD * jnp.array([w, h], jnp.float32)
    t = jnp.where(_gate(gate_rng, b, p)[:, None], t, 0.0)
    steps.append(_translation(-t[:, 0], -t[:, 1]))
  for step in steps:
    inverse = jnp.matmul(inverse, step, precision=_HIGHEST)
  return inverse


def warp(images: Array, inverse: Array) -> Array:
  """Resamples each image at `inverse @ (x, y, 1)` of each output pixel.

  Bilinear interpolation; coordinates outside the image are mirrored ('reflect' padding).
  Pixel centres are integer coordinates, relative to the image centre ((W - 1) / 2,
  (H - 1) / 2). Linear in `images`, so gradients reach them.

  Args:
    images: `[B, H, W, C]`.
    inverse: `[B, 3, 3]`, output pixel -> source pixel (e.g. `geometric_matrix`).

  Returns:
    `[B, H, W, C]`, the dtype of `images`.
  """
  b, h, w, _ = images.shape
  cy, cx = (h - 1) / 2, (w - 1) / 2
  y = (jnp.arange(h, dtype=jnp.float32) - cy)[None, :, None]
  x = (jnp.arange(w, dtype=jnp.float32) - cx)[None, None, :]
  m = inverse.astype(jnp.float32)[:, :, :, None, None]  # Elementwise: no TF32 on GPU.
  src_x = m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2] + cx
  src_y = m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2] + cy
  x0, y0 = jnp.floor(src_x), jnp.floor(src_y)
  wx, wy = (src_x - x0)[..., None], (src_y - y0)[..., None]
  x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
  cols0, cols1 = _mirror(x0, w), _mirror(x0 + 1, w)
  rows0, rows1 = _mirror(y0, h), _mirror(y0 + 1, h)
  f = images.astype(jnp.float32)
  top = (1 - wx) * _gather(f, rows0, cols0) + wx * _gather(f, rows0, cols1)
  bottom = (1 - wx) * _gather(f, rows1, cols0) + wx * _gather(f, rows1, cols1)
  return ((1 - wy) * top + wy * bottom).astype(images.dtype)


def _geom(images: Array, rng: Array, p: Array, names: tuple[str, ...]) -> Array:
  inverse = geometric_matrix(rng, p, images.shape, names)
  moved = jnp.any(inverse != jnp.eye(3, dtype=inverse.dtype), axis=(1, 2))
  return jnp.where(moved[:, None, None, None], warp(images, inverse), images)


def color_matrix(rng: Array, p: Array, batch: int, names=COLOR) -> Array:
  """The colour transformations as one matrix per example.

  Args:
    rng: the pipeline's key (the same as `augment`'s).
    p: augmentation probability, a scalar in [0, 1].
    batch: B.
    names: which of `COLOR` to draw; the others stay the identity.

  Returns:
    `[B, 4, 4]` matrices acting on homogeneous RGB (r, g, b, 1), images in [-1, 1]:
    saturation @ hue @ luma flip @ contrast @ brightness; exactly the identity where none
    was drawn.
  """
  p = jnp.asarray(p, jnp.float32)
  eye = jnp.eye(4, dtype=jnp.float32)
  matrix = jnp.broadcast_to(eye, (batch, 4, 4))

  def drawn(name, values, identity):
    gate_rng, _ = _draw(rng, name)
    return jnp.where(_gate(gate_rng, batch, p), values, identity)[:, None, None]

  def value_rng(name):
    return _draw(rng, name)[1]

  steps = []
  if 'brightness' in names:
    offset = np.zeros((4, 4), np.float32)
    offset[:3, 3] = 1
    bright = jax.random.normal(value_rng('brightness'), (batch,)) * BRIGHTNESS_STD
    steps.append(eye + drawn('brightness', bright, 0.0) * offset)
  if 'contrast' in names:
    c = jnp.exp2(jax.random.normal(value_rng('contrast'), (batch,)) * CONTRAST_STD)
    steps.append(eye + (drawn('contrast', c, 1.0) - 1) * np.diag([1, 1, 1, 0]).astype(np.float32))
  if 'lumaflip' in names:
    i = jax.random.bernoulli(value_rng('lumaflip'), 0.5, (batch,)).astype(jnp.float32)
    steps.append(eye - 2 * drawn('lumaflip', i, 0.0) * _LUMA_OUTER)
  if 'hue' in names:
    theta = jax.random.uniform(value_rng('hue'), (batch,), minval=-1, maxval=1) * (HUE_MAX * np.pi)
    theta = drawn('hue', theta, 0.0)
    # Rodrigues about the unit luma axis; (v x)^2 = -_CHROMA.
    steps.append(eye + jnp.sin(theta) * _LUMA_CROSS - (1 - jnp.cos(theta)) * _CHROMA)
  if 'saturation' in names:
    s = jnp.exp2(jax.random.normal(value_rng('saturation'), (batch,)) * SATURATION_STD)
    steps.append(eye + (drawn('saturation', s, 1.0) - 1) * _CHROMA)
  for step in steps:
    matrix = jnp.matmul(step, matrix, precision=_HIGHEST)
  return matrix


def _color(images: Array, rng: Array, p: Array, names: tuple[str, ...]) -> Array:
  b, _, _, c = images.shape
  if c == 1:
    names = tuple(n for n in names if n not in ('hue', 'saturation'))
  elif c != 3:
    raise ValueError(f'colour augmentation needs 1 or 3 channels, got {c}')
  if not names:
    return images
  matrix = color_matrix(rng, p, b, names)
  m = matrix[:, None, None]  # [B, 1, 1, 4, 4]; elementwise products: no TF32 on GPU.
  f = images.astype(jnp.float32)
  if c == 1:
    # Grey (g, g, g) through the matrix, read back as the mean of the three channels.
    gain = jnp.sum(m[..., :3, :3], axis=(-2, -1))[..., None] / 3
    out = gain * f + jnp.mean(m[..., :3, 3], axis=-1)[..., None]
  else:
    r, g, bl = f[..., 0], f[..., 1], f[..., 2]
    out = jnp.stack(
      [m[..., i, 0] * r + m[..., i, 1] * g + m[..., i, 2] * bl + m[..., i, 3] for i in range(3)],
      axis=-1,
    )
  changed = jnp.any(matrix != jnp.eye(4, dtype=matrix.dtype), axis=(1, 2))
  return jnp.where(changed[:, None, None, None], out.astype(images.dtype), images)


_GROUP_FNS = ((BLIT, _blit), (GEOM, _geom), (COLOR, _color))


def augment(images: Array, rng: Array, p: float | Array, *, pipe: str = 'bgc') -> Array:
  """ADA's augmentation of the images D sees; jittable, differentiable in `images`.

  Each transformation of `pipe` is applied to each example independently with probability
  `p` (the rotations with 1 - sqrt(1 - p) each); see the module docstring for the
  transformations and strengths. The draws of a transformation depend only on `rng`, not
  on which others `pipe` holds.

  Args:
    images: `[B, H, W, C]` in [-1, 1]; C = 1 or 3 if `pipe` holds colour transformations.
    rng: a `jax.random` key, used for this batch only.
    p: augmentation probability, a scalar in [0, 1]; may be traced.
    pipe: group letters (`'bgc'`, `'bg'`, `'c'`) and/or transformation names,
      comma-separated; static.

  Returns:
    `[B, H, W, C]`, the dtype of `images`; `images` bit for bit where p = 0.

  Raises:
    ValueError: for a bad shape, an unknown pipe element, non-square images with
      `rotate90` or colour on neither 1 nor 3 channels.
  """
  if images.ndim != 4:
    raise ValueError(f'augment expects [B, H, W, C] images, got shape {images.shape}')
  if jnp.ndim(p) != 0:
    raise ValueError(f'p must be a scalar, got shape {jnp.shape(p)}')
  names = parse_pipe(pipe)
  p = jnp.asarray(p, jnp.float32)
  for group, fn in _GROUP_FNS:
    chosen = tuple(n for n in names if n in group)
    if chosen:
      images = fn(images, rng, p, chosen)
  return images


# ----------------------------------------------------------------------------------------------
# The controller.


def ada_stats(real_logits: Array) -> Array:
  """One step's term of r_t: E[sign(D(x))] over the batch of (augmented) real images.

  Args:
    real_logits: D's outputs on the real images it was trained on, `[B]` or `[B, 1]`.

  Returns:
    A float32 scalar in [-1, 1]: 1 when D calls every real image real.
  """
  return jnp.mean(jnp.sign(real_logits.astype(jnp.float32)))


def update_p(
  p: Array,
  rt: Array,
  *,
  target: float | None = ADA_TARGET,
  batch_size: int,
  interval: int = ADA_INTERVAL,
  speed_kimg: float = ADA_KIMG,
) -> Array:
  """One adjustment of p from the overfitting heuristic r_t.

  p <- clip(p + sign(r_t - target) * batch_size * interval / (speed_kimg * 1000), 0, 1).
  The reference clamps at 0 only; the clamp at 1 is ours (p is a probability).

  Args:
    p: the current probability, a scalar.
    rt: r_t = E[sign(D_train)] over the last `interval` steps (`ada_stats`, averaged).
    target: r_t's target (0.6 in the paper); None is the fixed-p mode: p is returned as is.
    batch_size: images per step (the global batch).
    interval: steps between adjustments.
    speed_kimg: thousands of images for p to go from 0 to 1 at a constant sign.

  Returns:
    The new p, a float32 scalar.
  """
  p = jnp.asarray(p, jnp.float32)
  if target is None:
    return p
  delta = batch_size * interval / (speed_kimg * 1000)
  return jnp.clip(p + jnp.sign(rt - target) * delta, 0.0, 1.0)


class AdaState(struct.PyTreeNode):
  """ADA's state: p and the accumulator of r_t since p's last adjustment.

  Attributes:
    p: the augmentation probability, a float32 scalar.
    rt_sum: the sum of `ada_stats` over the steps since the last adjustment.
    rt_steps: how many steps that is (int32).
  """

  p: Array
  rt_sum: Array
  rt_steps: Array

  @classmethod
  def create(cls, p: float = 0.0) -> 'AdaState':
    return cls(
      p=jnp.asarray(p, jnp.float32),
      rt_sum=jnp.zeros((), jnp.float32),
      rt_steps=jnp.zeros((), jnp.int32),
    )

  @property
  def rt(self) -> Array:
    """r_t so far in this interval (0 before the first step)."""
    return self.rt_sum / jnp.maximum(self.rt_steps, 1)


def ada_step(
  ada: AdaState,
  real_logits: Array,
  *,
  target: float | None = ADA_TARGET,
  interval: int = ADA_INTERVAL,
  speed_kimg: float = ADA_KIMG,
) -> AdaState:
  """Accumulates one step's `ada_stats`; every `interval`-th call also adjusts p (`update_p`).

  r_t is the mean of the `interval` steps' `ada_stats`. Jittable; the adjustment is a
  `jnp.where`, not a branch.

  Args:
    ada: the current state.
    real_logits: D's outputs on this step's augmented real images, `[B]` or `[B, 1]`; B is
      the batch size of `update_p` (the global batch under `jax.jit`; under `pmap`, gather
      the logits or `pmean` the statistic first).
    target: r_t's target; None keeps p fixed (r_t is still accumulated, for logging).
    interval: steps between adjustments.
    speed_kimg: as in `update_p`.

  Returns:
    The new state: p adjusted and the accumulator reset on every `interval`-th call.
  """
  rt_sum = ada.rt_sum + ada_stats(real_logits)
  rt_steps = ada.rt_steps + 1
  due = rt_steps >= interval
  p = update_p(
    ada.p,
    rt_sum / rt_steps,
    target=target,
    batch_size=real_logits.shape[0],
    interval=interval,
    speed_kimg=speed_kimg,
  )
  return AdaState(
    p=jnp.where(due, p, ada.p),
    rt_sum=jnp.where(due, 0.0, rt_sum),
    rt_steps=jnp.where(due, 0, rt_steps),
  )
