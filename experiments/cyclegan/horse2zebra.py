"""CycleGAN horse <-> zebra from TFDS `cycle_gan/horse2zebra` (reference recipe, 256x256).

Command (after `tfds build cycle_gan/horse2zebra --file_format=array_record`, see README):
  python -m jaxgan.experiments.cyclegan --config=experiments/cyclegan/horse2zebra.py --workdir=w/h2z
Expected: not measured here (no download on the dev machine). The reference
reports about 1.5-3 iterations/s on a GTX 1080. Its epoch is max(|trainA|,
|trainB|) = 1,334 steps of batch 1: 100 epochs constant + 100 decaying.
"""

from jaxgan import configs
from jaxgan.games import cyclegan


def get_config(arg=None):
  config = cyclegan.base_config()
  config.data.source = 'tfds'
  config.data.name = 'cycle_gan/horse2zebra'
  epoch = 1334
  for who in ('g', 'd'):
    config.optimizer[who].constant_steps = 100 * epoch
    config.optimizer[who].decay_steps = 100 * epoch
  config.train.num_steps = 200 * epoch
  config.train.checkpoint_every = 5000
  config.train.sample_every = 2500
  return configs.finalize(config, arg)
