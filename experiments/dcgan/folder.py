"""DCGAN on any folder of images (png/jpg/bmp/gif/webp, searched recursively).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/folder.py \\
      --config.data.path=/path/to/images --workdir=workdirs/folder
  Add --config.model.size=32 --config.model.channels=1 for small grey images.
Images are resized (shorter side = size) and centre-cropped.
Expected: run time and result depend on the folder; the smoke variant runs in seconds.
"""

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'folder'
  config.data.random_flip = True
  config.model.size = 64
  config.model.channels = 3
  return configs.finalize(config, arg)
