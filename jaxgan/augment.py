"""Differentiable augmentation (DiffAugment, Zhao et al. 2020), jittable, for D's inputs.

The same random transformations are applied to real images (D's update) and to
generated ones (D's and G's updates); they are differentiable in the image, so
G is trained through them. With little data D then cannot memorise the real
set, and G is not pushed to reproduce the augmentations (they are applied to
both sides). Images are `[B, H, W, C]` in [-1, 1]; each example draws its own
transformation.

Policies (comma-separated in `config.loss.diffaug`), as in the paper's code:
- `color`: brightness + U(-0.5, 0.5); saturation x U(0, 2) around the channel
  mean; contrast x U(0.5, 1.5) around the image mean.
- `translation`: a shift of up to 1/8 of the size in each axis, zero-filled.
- `cutout`: a square of half the size, at a random centre, set to 0.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def color(x: Array, rng: Array) -> Array:
  b, s, c = jax.random.uniform(rng, (3, x.shape[0], 1, 1, 1), x.dtype)
  x = x + (b - 0.5)
  mean = jnp.mean(x, axis=-1, keepdims=True)
  x = (x - mean) * (2.0 * s) + mean
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (c + 0.5) + mean


def translation(x: Array, rng: Array, ratio: float = 0.125) -> Array:
  _, h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(rng)
  dy = jax.random.randint(ky, (x.shape[0],), -sh, sh + 1)
  dx = jax.random.randint(kx, (x.shape[0],), -sw, sw + 1)
  padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))

  def shift(image, dy, dx):
    return jax.lax.dynamic_slice(image, (sh - dy, sw - dx, 0), (h, w, image.shape[-1]))

  return jax.vmap(shift)(padded, dy, dx)


def cutout(x: Array, rng: Array, ratio: float = 0.5) -> Array:
  _, h, w, _ = x.shape
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(rng)
  cy = jax.random.randint(ky, (x.shape[0], 1, 1), 0, h + (1 - ch % 2))
  cx = jax.random.randint(kx, (x.shape[0], 1, 1), 0, w + (1 - cw % 2))
  rows = jnp.arange(h)[None, :, None]
  cols = jnp.arange(w)[None, None, :]
  inside = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch)
  inside &= (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
  return x * (~inside)[..., None].astype(x.dtype)


POLICIES: dict[str, Callable[[Array, Array], Array]] = {
  'color': color,
  'translation': translation,
  'cutout': cutout,
}


def parse(policy: str) -> tuple[str, ...]:
  """`'color,translation'` -> its names; raises ValueError for an unknown one."""
  names = tuple(p.strip() for p in policy.split(',') if p.strip())
  unknown = [p for p in names if p not in POLICIES]
  if unknown:
    raise ValueError(f'unknown DiffAugment policy {unknown}; known: {", ".join(POLICIES)}')
  return names


def diff_augment(x: Array, rng: Array, policy: str) -> Array:
  """`x` through each transformation of `policy` in turn (identity for '')."""
  for i, name in enumerate(parse(policy)):
    x = POLICIES[name](x, jax.random.fold_in(rng, i))
  return x
