"""LSGAN (Mao et al. 2017) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/lsgan.py --workdir=w/lsgan
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/lsgan.py:mnist5k \
    --workdir=w/lsgan_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (least-squares loss, targets 0 / 1) is `jaxgan.recipes.apply(config,
'lsgan')` on the demo's config (experiments/dcgan/digits.py or mnist5k.py): same model,
data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('lsgan', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
