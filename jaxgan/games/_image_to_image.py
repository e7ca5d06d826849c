"""Pieces the image-to-image games (CycleGAN, pix2pix) share; not a game itself.

The registry skips modules whose name starts with `_`, so this holds what
both games use without either importing the other.
"""

import ml_collections
from ml_collections import config_dict

from jaxgan import schema

ConfigDict = ml_collections.ConfigDict


def base_config(game: str) -> ConfigDict:
  """The sections both reference recipes share: 256x256 crops of 286 loads, Adam 2e-4 with a
  constant then linearly decaying learning rate, batch 1, no EMA, a PatchGAN D."""
  config = schema.base()
  config.game = game
  size = config_dict.FieldReference(256)
  config.model = ConfigDict()
  config.model.name = game
  config.model.size = size
  config.model.channels = 3
  config.model.features = 64
  config.model.d_features = 64
  config.model.d_layers = 3
  config.model.conv_impl = 'fast'

  config.data = ConfigDict()
  config.data.source = 'folder'  # digits_mapping | folder | tfds
  config.data.name = ''  # TFDS name
  config.data.data_dir = ''
  config.data.path = ''
  config.data.skip_bad_files = False  # True: leave unreadable images out (counted in the log)
  config.data.size = size  # the random crop
  config.data.load_size = 286  # images are resized to this first (the reference's jitter)
  config.data.channels = 3
  config.data.random_flip = True
  config.data.num_threads = 4
  config.data.prefetch = 4
  config.data.workers = 0  # grain worker processes (mp_prefetch); 0: threads in this process

  for who in ('g', 'd'):  # constant learning rate, then linear decay to 0
    config.optimizer[who].constant_steps = 100_000
    config.optimizer[who].decay_steps = 100_000
  config.train.batch_size = 1
  config.train.num_steps = 200_000
  config.train.use_ema = False
  config.train.log_every = 100
  config.eval.num_samples = 4  # held-out images (pairs) in the sample grids
  return config


def smoke(config: ConfigDict) -> ConfigDict:
  """The shared part of both games' `:smoke` shrink (each then shrinks its own networks)."""
  config.train.batch_size = 2
  config.model.features, config.model.d_features = 8, 8
  config.model.size = min(config.model.size, 32)
  config.data.load_size = config.model.size + 4
  config.eval.num_samples = 2
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps, config.optimizer[who].decay_steps = 3, 3
  return config
