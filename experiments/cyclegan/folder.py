"""CycleGAN on a folder in the reference layout: trainA/, trainB/ (and testA/, testB/).

Command:
  python -m jaxgan.experiments.cyclegan --config=experiments/cyclegan/folder.py \\
      --config.data.path=/data/horse2zebra --workdir=w/h2z
  128x128: --config.model.size=128 --config.data.load_size=143 --config.model.num_blocks=6
Expected: the reference recipe at 256x256 (ResNet-9, batch 1, 200 epochs); run
time and results depend on the data. Not measured here (no dataset on the dev machine).
"""

from jaxgan import configs
from jaxgan.games import cyclegan


def get_config(arg=None):
  config = cyclegan.base_config()
  config.data.source = 'folder'
  return configs.finalize(config, arg)
