"""MLP GAN on the 25-Gaussian grid (PacGAN/VEEGAN protocol: {-4..4}^2 step 2, std 0.05).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/toy2d/grid.py --workdir=workdirs/grid
Same recipe as ring.py; results.json gets the mode-coverage metrics on 2,500
samples.
Expected: measured figures (and run time) are in experiments/README.md.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.toy2d_config()
  config.data.name = 'grid'
  return configs.finalize(config, arg)
