"""DCGAN on scikit-learn's bundled 8x8 digits upscaled to 32x32: the demo (no download).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py --workdir=workdirs/digits
  (or `make demo`)
Expected: see experiments/README.md for the measured wall time, samples and quality.

Quality: every 500 steps and at the end, the classifier FID, KID, precision/recall,
density/coverage and class coverage of 2,000 samples against the 1,797 digits, in the
features of the digits classifier (jaxgan/eval/classifier.py; trained once, ~20 s, and
cached). The checkpoint with the lowest classifier FID is kept in
checkpoints_best_classifier_fid/.
"""

from jaxgan import configs
from jaxgan.eval import options
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'digits'
  config.model.size = 32
  config.model.channels = 1
  config.model.width = 32
  config.train.batch_size = 64
  config.train.num_steps = 1500
  config.train.log_every = 50
  config.train.sample_every = 500
  config.train.checkpoint_every = 500
  config.evals.classifier = options.quality_config(
    features='classifier', metrics='fid,kid,pr,dc,class_coverage', n=2000, every=500
  )
  config.train.best_metric = 'classifier_fid'
  return configs.finalize(config, arg)
