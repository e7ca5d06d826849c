"""MLP GAN on the 8-Gaussian ring (PacGAN/VEEGAN protocol: radius 1, std 0.01).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/toy2d/ring.py --workdir=workdirs/ring
Baseline recipe of PacGAN (G: 4 x 400 ReLU + BatchNorm, z ~ N(0, I_2); Adam
1e-4, beta1 0.8; batch 100). Writes results.json with modes captured, % high
quality and reverse KL on 2,500 samples.
Expected: measured figures (and run time) are in experiments/README.md.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.toy2d_config()
  config.data.name = 'ring'
  return configs.finalize(config, arg)
