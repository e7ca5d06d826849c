"""DCGAN + DiffAugment (Zhao et al. 2020) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/diffaug.py --workdir=w/diffaug
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/diffaug.py:mnist5k \
    --workdir=w/diffaug_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (colour, translation and cutout on every image D sees, real and fake) is
`jaxgan.recipes.apply(config, 'diffaug')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('diffaug', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
