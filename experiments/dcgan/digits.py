"""DCGAN on scikit-learn's bundled 8x8 digits upscaled to 32x32: the demo (no download).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py --workdir=workdirs/digits
  (or `make demo`)
Expected: see experiments/README.md for the measured wall time and samples.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'digits'
  config.model.size = 32
  config.model.channels = 1
  config.model.width = 32
  config.train.batch_size = 64
  config.train.num_steps = 1500
  config.train.log_every = 50
  config.train.sample_every = 500
  config.train.checkpoint_every = 500
  return configs.finalize(config, arg)
