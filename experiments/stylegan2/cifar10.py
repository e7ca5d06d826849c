"""StyleGAN2 with ADA on CIFAR-10 with the ADA paper's `cifar` settings (TFDS; needs the data).

Command:
  tfds build cifar10 --file_format=array_record      # once, where the data can be fetched
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/cifar10.py \
      --workdir=workdirs/sg2_cifar10
Expected: not measured here (no download on the development machine). The paper's
conditional CIFAR-10 FID is 2.42 (50k samples against the training set, Inception,
legacy resize) after 100M images; set `--config.model.num_classes=10` for the conditional run.

`cifar`: 32x32, fmaps 1, mapping 2, batch 64, mbstd group 32, lr 0.0025, gamma 0.01,
EMA 500 kimg with ramp-up 0.05, no path length, no style mixing, D 'orig', x-flips.
"""

from jaxgan import configs
from jaxgan.eval import options
from jaxgan.games import stylegan2


def get_config(arg=None):
  config = stylegan2.base_config()
  config.data.source = 'tfds'
  config.data.name = 'cifar10'
  config.data.random_flip = True
  config.train.num_steps = 1_562_500  # 100M images at batch 64
  config.train.sample_every = config.train.checkpoint_every = 10_000
  config.evals.fid = options.quality_config(metrics='fid', n=50_000, every=50_000)
  return configs.finalize(config, arg)
