"""CycleGAN on the embedded unpaired digits with a KNOWN mapping (no download).

Domain A: orange digits on black; domain B: other digits mapped by T = invert
+ rotate the colour channels. The models never see a pair; the held-out error
of g_ab(a) against the true T(a) measures translation quality, next to the
identity map's error |a - T(a)|.

Command:
  python -m jaxgan.experiments.cyclegan --config=experiments/cyclegan/digits.py --workdir=w/cgd
Expected: see experiments/README.md for the measured errors and wall time.
"""

from jaxgan import configs
from jaxgan.games import cyclegan


def get_config(arg=None):
  config = cyclegan.base_config()
  config.data.source = 'digits_mapping'
  config.model.size = 32
  config.data.load_size = 36
  config.data.random_flip = False  # T commutes with flips, but digits are not mirror-symmetric
  config.model.features = 16
  config.model.num_blocks = 3
  config.model.d_features = 16
  config.train.batch_size = 8
  config.train.num_steps = 600
  config.train.log_every = 50
  config.train.sample_every = 200
  config.train.checkpoint_every = 200
  config.loss.pool_size = 50
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps = 400
    config.optimizer[who].decay_steps = 200
  return configs.finalize(config, arg)
