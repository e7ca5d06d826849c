"""SNGAN (Miyato et al. 2018) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/sngan.py --workdir=w/sngan
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/sngan.py:mnist5k \
    --workdir=w/sngan_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (hinge loss, spectral normalisation of every D layer (no BatchNorm), Adam
2e-4 / (0.5, 0.999)) is `jaxgan.recipes.apply(config, 'sngan')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('sngan', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
