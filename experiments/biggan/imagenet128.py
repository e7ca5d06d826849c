"""Class-conditional BigGAN at 128x128 on ImageNet with the paper's settings (TFDS; needs the data).

Command:
  tfds build imagenet2012 --file_format=array_record  # once, with the manually downloaded data
  python -m jaxgan.experiments.dcgan --config=experiments/biggan/imagenet128.py \
      --workdir=workdirs/biggan_in128
Expected: not measured here (no data or accelerator on the development machine). The paper
reports FID 8.7 / IS 98.8 at 128x128 with batch 2048 after about 150k iterations.

The paper's ImageNet settings: width 96, z 120, shared embedding 128, attention at 64x64,
hinge, G 1e-4 / D 4e-4, Adam betas (0, 0.999), 2 D steps per G step, orthogonal
regularisation 1e-4, EMA 0.9999 from step 20,000; batch 256 per D step here (the paper's
2048 needs a pod: set --config.train.batch_size=4096 there).
"""

from ml_collections import ConfigDict

from jaxgan import configs, schema
from jaxgan.eval import options
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.biggan_config()
  config.data.source = 'tfds'
  config.data.name = 'imagenet2012'
  config.data.random_flip = True
  config.model.size = 128
  config.model.latent_dim = 120
  config.model.num_classes = 1000
  config.model.attention_res = 64
  config.loss.n_critic = 2
  config.loss.g_ortho = 1e-4
  config.optimizer = ConfigDict({'g': schema.adam(1e-4, 0.0), 'd': schema.adam(4e-4, 0.0)})
  config.train.batch_size = 2 * 256
  config.train.num_steps = 150_000
  config.train.ema_start = 20_000
  config.train.sample_every = config.train.checkpoint_every = 5_000
  config.evals.fid = options.quality_config(
    metrics='fid,is', n=50_000, ref='tfds:imagenet2012/validation', every=20_000
  )
  return configs.finalize(config, arg)
