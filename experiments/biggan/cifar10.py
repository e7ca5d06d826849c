"""Class-conditional BigGAN on CIFAR-10 with StudioGAN's settings (TFDS; needs the data).

Command:
  tfds build cifar10 --file_format=array_record      # once, where the data can be fetched
  python -m jaxgan.experiments.dcgan --config=experiments/biggan/cifar10.py \
      --workdir=workdirs/biggan_cifar10
Expected: not measured here (no download on the development machine). StudioGAN reports
FID 4.16 / IS 9.96 (10k samples against the test set, TF Inception) for this setting.

StudioGAN's CIFAR BigGAN: width 96, z 80, shared embedding 128, attention at 16x16, hinge,
batch 64, Adam 2e-4 with betas (0.5, 0.999), 5 D steps per G step, EMA 0.9999 from step
1,000, x-flips.
"""

from jaxgan import configs
from jaxgan.eval import options
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.biggan_config()
  config.data.source = 'tfds'
  config.data.name = 'cifar10'
  config.data.random_flip = True
  config.train.num_steps = 100_000
  config.train.sample_every = config.train.checkpoint_every = 5_000
  config.evals.fid = options.quality_config(
    metrics='fid,is', n=10_000, ref='tfds:cifar10/test', every=10_000
  )
  return configs.finalize(config, arg)
