"""WGAN-GP (Gulrajani et al. 2017) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/wgan_gp.py --workdir=w/wgan_gp
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/wgan_gp.py:mnist5k \
    --workdir=w/wgan_gp_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (Wasserstein loss + gradient penalty 10, 5 critic updates per G update, Adam
1e-4 / (0, 0.9), no BatchNorm in the critic) is `jaxgan.recipes.apply(config,
'wgan_gp')` on the demo's config (experiments/dcgan/digits.py or mnist5k.py): same
model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('wgan_gp', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
