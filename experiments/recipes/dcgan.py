"""DCGAN, the baseline row on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/dcgan.py --workdir=w/dcgan
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/dcgan.py:mnist5k \
    --workdir=w/dcgan_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (non-saturating loss, BatchNorm D, Adam 2e-4 / 0.5) is
`jaxgan.recipes.apply(config, 'dcgan')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('dcgan', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
