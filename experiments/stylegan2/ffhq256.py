"""StyleGAN2 with ADA at 256x256 with the ADA paper's `paper256` settings (an image folder).

Command:
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/ffhq256.py \
      --config.data.path=/data/ffhq256 --workdir=workdirs/sg2_ffhq256
Expected: not measured here (no such data or accelerator on the development machine). The
ADA paper reports FFHQ-1k FID 21.29 with ADA against 100.16 without (Fig. 7c), FFHQ-70k 4.30.
On a GPU or TPU add `--config.train.half_precision=True` (the 4 highest resolutions in
bfloat16, activations clamped at 256).

`paper256`: fmaps 0.5, mapping 8, batch 64, mbstd 8, lr 0.0025, gamma 1, EMA 20 kimg,
path length (weight 2, every 4), style mixing 0.9, D 'resnet', x-flips.
"""

from jaxgan import configs
from jaxgan.games import stylegan2


def get_config(arg=None):
  config = stylegan2.paper256_config()
  config.data.source = 'folder'
  config.data.random_flip = True
  config.train.num_steps = 390_625  # 25M images at batch 64
  config.train.sample_every = config.train.checkpoint_every = 5_000
  return configs.finalize(config, arg)
