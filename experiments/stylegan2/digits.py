"""StyleGAN2 with ADA on scikit-learn's bundled digits (1,797, upscaled to 32x32): a CPU-sized run.

Command:
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/digits.py \
      --workdir=workdirs/sg2_digits
Expected: see experiments/README.md (StyleGAN2) for the measured wall time and quality;
the `:smoke` variant runs in seconds.

A small StyleGAN2 (channel_max 64, z and w 128, mapping 2) with the `cifar` settings
otherwise (no path length, no style mixing), ADA from p = 0, batch 32. Quality at the end:
classifier FID, KID, precision/recall and class coverage of 2,000 samples against the
1,797 digits, in the features of the digits classifier (jaxgan/eval/classifier.py).
"""

from jaxgan import configs
from jaxgan.eval import options
from jaxgan.games import stylegan2


def get_config(arg=None):
  config = stylegan2.base_config()
  config.data.source = 'digits'
  config.model.size = 32
  config.model.channels = 1
  config.model.z_dim = config.model.w_dim = 128
  config.model.channel_base = 2048
  config.model.channel_max = 64
  config.model.mbstd_group = 4
  config.train.batch_size = 32
  config.train.num_steps = 2000
  config.train.ema_kimg = 10.0
  config.train.log_every = 50
  config.train.sample_every = 500
  config.train.checkpoint_every = 500
  config.evals.classifier = options.quality_config(
    features='classifier', metrics='fid,kid,pr,class_coverage', n=2000, every=1000
  )
  config.train.best_metric = 'classifier_fid'
  return configs.finalize(config, arg)
