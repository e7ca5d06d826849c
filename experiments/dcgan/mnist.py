"""DCGAN on MNIST at its native 28x28 (TFDS `mnist`).

Command (after preparing the dataset, see README "TFDS datasets"):
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/mnist.py --workdir=workdirs/mnist
Expected: not yet measured on real MNIST here (no download on the dev machine);
the pipeline is tested on TFDS mock data.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'tfds'
  config.data.name = 'mnist'
  config.model.size = 28
  config.model.channels = 1
  config.train.num_steps = 10_000
  return configs.finalize(config, arg)
