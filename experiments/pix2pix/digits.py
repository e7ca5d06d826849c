"""pix2pix on the embedded paired digits: A -> T(A), the known mapping (no download).

Command:
  python -m jaxgan.experiments.pix2pix --config=experiments/pix2pix/digits.py --workdir=w/p2p
Expected: see experiments/README.md for the measured held-out L1 and wall time.
"""

from jaxgan import configs
from jaxgan.games import pix2pix


def get_config(arg=None):
  config = pix2pix.base_config()
  config.data.source = 'digits_mapping'
  config.model.size = 32
  config.model.num_downs = 5
  config.model.features = 16
  config.model.d_features = 16
  config.data.load_size = 36
  config.data.random_flip = False
  config.train.batch_size = 8
  config.train.num_steps = 600
  config.train.log_every = 50
  config.train.sample_every = 200
  config.train.checkpoint_every = 200
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps = 400
    config.optimizer[who].decay_steps = 200
  return configs.finalize(config, arg)
