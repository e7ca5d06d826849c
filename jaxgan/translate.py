"""Image-to-image translation of a folder with a trained CycleGAN or pix2pix workdir."""

import functools
import os

import jax
import numpy as np
from PIL import Image

from jaxgan import checkpoint, seeds
from jaxgan.data import sources
from jaxgan.errors import ConfigError


def translate_folder(
  workdir: str, input_dir: str, output_dir: str, *, direction: str = 'ab'
) -> list[str]:
  """Writes one PNG per input image: `g_ab` (or `g_ba`) of it, at the input's size.

  A pix2pix generator translates one way (`config.data.direction` of its run):
  `direction` must be 'ab' for it.

  Any size or colour mode is accepted: each image is converted to the model's
  channels and resized to its image size, translated, and resized back.

  Returns:
    The written paths.
  """
  if direction not in ('ab', 'ba'):
    raise ConfigError(f"--direction must be 'ab' or 'ba'; got {direction!r}")
  config, state = checkpoint.load_state(workdir)
  game = seeds.game_of(config)
  run = jax.jit(functools.partial(game.translate, direction=direction))
  probe = np.zeros((1, config.model.size, config.model.size, config.model.channels), np.float32)
  try:
    jax.eval_shape(run, state, probe)  # a game that cannot translate this way says so now
  except ConfigError as e:
    raise ConfigError(f'{workdir!r}: {e}') from None
  files = sources.list_images(input_dir)
  size, channels = config.model.size, config.model.channels
  os.makedirs(output_dir, exist_ok=True)
  written = []
  for path in files:
    image = sources.open_image(path)
    original = image.size
    x = image.convert('L' if channels == 1 else 'RGB').resize(
      (size, size), Image.Resampling.BICUBIC
    )
    x = sources.to_unit_range(np.asarray(x, np.uint8).reshape(size, size, channels))
    y = np.asarray(run(state, x[None]))[0]
    y = np.round((np.clip(y, -1, 1) + 1) * 127.5).astype(np.uint8)
    out = Image.fromarray(y[..., 0] if channels == 1 else y).resize(
      original, Image.Resampling.BICUBIC
    )
    name = os.path.splitext(os.path.relpath(path, input_dir))[0].replace(os.sep, '__') + '.png'
    written.append(os.path.join(output_dir, name))
    out.save(written[-1])
  return written
