"""DCGAN on CelebA faces at 64x64 (TFDS `celeb_a`): the DCGAN paper's setting.

Command (after preparing the dataset, see README "TFDS datasets"):
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/celeba64.py --workdir=w/celeba
Expected: not yet measured (no download on the dev machine). Images are
resized (shorter side 64) and centre-cropped, as the PyTorch DCGAN example does.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'tfds'
  config.data.name = 'celeb_a'
  config.data.random_flip = True
  config.model.size = 64
  config.model.channels = 3
  config.train.batch_size = 128
  config.train.num_steps = 50_000
  config.train.checkpoint_every = 5000
  config.train.sample_every = 2500
  return configs.finalize(config, arg)
