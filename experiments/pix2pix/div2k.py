"""pix2pix on TFDS `div2k/bicubic_x4`: bicubic 4x-downsampled photo -> the original.

TFDS holds no dataset in pix2pix's aligned A|B form (its `cycle_gan/facades` and
`cycle_gan/maps` store the two sides as unpaired splits), so this config reads
a TFDS dataset with two image features per record (`lr`, `hr`); each side is
resized to `load_size` and the pair is cropped and flipped together. Any paired
TFDS dataset works with `--config.data.name`, `key_a`, `key_b` (or `key_b=''`
for one A|B image per record).

Command:
  tfds build div2k/bicubic_x4 --file_format=array_record   # needs `pip install -e '.[prepare]'`
  python -m jaxgan.experiments.pix2pix --config=experiments/pix2pix/div2k.py --workdir=w/div2k
Expected: not measured here (no dataset download on the dev machine).
"""

from jaxgan import configs
from jaxgan.games import pix2pix


def get_config(arg=None):
  config = pix2pix.base_config()
  config.data.source = 'tfds'
  config.data.name = 'div2k/bicubic_x4'
  config.data.key_a, config.data.key_b = 'lr', 'hr'
  config.data.train_split, config.data.test_split = 'train', 'validation'
  return configs.finalize(config, arg)
