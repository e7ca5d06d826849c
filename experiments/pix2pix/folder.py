"""pix2pix on a folder in the reference aligned layout (facades, maps, edges2shoes, ...).

`path/train/` and `path/test/` (or `val/`) hold images with A on the left half and
B on the right, as the reference's datasets are distributed.

Command:
  python -m jaxgan.experiments.pix2pix --config=experiments/pix2pix/folder.py \\
      --config.data.path=/data/facades --workdir=w/facades
Expected: the reference recipe (U-Net-256, batch 1, 286 -> 256 jitter); not
measured here (no dataset on the dev machine). TFDS: experiments/pix2pix/div2k.py.
"""

from jaxgan import configs
from jaxgan.games import pix2pix


def get_config(arg=None):
  config = pix2pix.base_config()
  config.data.source = 'folder'
  return configs.finalize(config, arg)
