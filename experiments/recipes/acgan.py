"""Class-conditional DCGAN, auxiliary-classifier D (ACGAN): digits (`:mnist5k`: MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/acgan.py \
    --workdir=w/acgan
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/acgan.py:mnist5k \
    --workdir=w/acgan_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (a label embedding joined to G's latent, a class head on D (Odena et al. 2017)) is
`jaxgan.recipes.apply(config, 'acgan')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('acgan', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
