"""Sample grids, latent interpolation strips and 2-D scatter renders, as uint8 images."""

import os

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
  """[-1, 1] floats -> uint8 [0, 255]."""
  return np.round((np.clip(np.asarray(images, np.float32), -1, 1) + 1) * 127.5).astype(np.uint8)


def make_grid(images: np.ndarray, *, ncol: int | None = None, pad: int = 2) -> np.ndarray:
  """`[N, H, W, C]` images in [-1, 1] -> one `[rows*(H+pad)+pad, ..., C]` uint8 grid."""
  images = to_uint8(images)
  if images.ndim != 4:
    raise ValueError(f'make_grid wants [N, H, W, C]; got {images.shape}')
  n, h, w, c = images.shape
  ncol = ncol or int(np.ceil(np.sqrt(n)))
  nrow = int(np.ceil(n / ncol))
  grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
  for i in range(n):
    r, col = divmod(i, ncol)
    y, x = pad + r * (h + pad), pad + col * (w + pad)
    grid[y : y + h, x : x + w] = images[i]
  return grid


def render_points(
  points: np.ndarray, modes: np.ndarray | None = None, *, size: int = 256
) -> np.ndarray:
  """A scatter plot of `[N, 2]` points (black) over mode centres (red), `[size, size, 3]`."""
  points = np.asarray(points, np.float64)
  ref = points if modes is None else np.concatenate([points, modes])
  ref = ref[np.isfinite(ref).all(-1)]
  lim = float(np.abs(ref).max()) * 1.15 if len(ref) else 1.0
  to_px = lambda p: np.clip(((p / lim + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
  canvas = np.full((size, size, 3), 255, np.uint8)
  if modes is not None:
    for mx, my in to_px(np.asarray(modes)):
      canvas[max(0, size - 1 - my - 3) : size - my + 2, max(0, mx - 3) : mx + 4] = (230, 60, 60)
  finite = points[np.isfinite(points).all(-1)]
  px = to_px(finite)
  rows, cols = size - 1 - px[:, 1], px[:, 0]
  for dy in (0, 1):  # 2x2 dots
    for dx in (0, 1):
      canvas[np.clip(rows - dy, 0, size - 1), np.clip(cols + dx, 0, size - 1)] = 0
  return canvas


def save_png(image: np.ndarray, path: str) -> str:
  """Writes a uint8 `[H, W, C]` image (C = 1 or 3); returns the path."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  Image.fromarray(image).save(path)
  return path


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
  """Spherical interpolation between latent rows `a`, `b` `[R, D]` at fractions `t` `[T]`.

  Returns `[R, T, D]`. Gaussian latents concentrate near a sphere, so slerp
  keeps intermediate points typical where a straight line would not.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
  omega = np.arccos(np.clip(cos, -1.0, 1.0))[:, None, None]
  t = np.asarray(t, np.float64)[None, :, None]
  so = np.sin(omega)
  lerp = (1 - t) * a[:, None] + t * b[:, None]
  safe = np.where(so < 1e-6, 1.0, so)
  out = (np.sin((1 - t) * omega) * a[:, None] + np.sin(t * omega) * b[:, None]) / safe
  return np.where(so < 1e-6, lerp, out).astype(np.float32)
