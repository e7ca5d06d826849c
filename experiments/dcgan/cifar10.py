"""DCGAN on CIFAR-10 32x32 (TFDS `cifar10`), the StudioGAN comparison setting.

Command (after preparing the dataset, see README "TFDS datasets"):
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/cifar10.py --workdir=w/cifar10
Expected: not yet measured (no download on the dev machine; FID evaluation is a
later issue). StudioGAN reports DCGAN FID 48.29 on CIFAR-10 (StudioGAN benchmark, 50k samples).
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'tfds'
  config.data.name = 'cifar10'
  config.data.random_flip = True
  config.model.size = 32
  config.model.channels = 3
  config.train.num_steps = 100_000
  config.train.checkpoint_every = 5000
  config.train.sample_every = 5000
  return configs.finalize(config, arg)
