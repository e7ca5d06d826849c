"""Class-conditional DCGAN, projection D (Miyato & Koyama 2018): digits (`:mnist5k`: MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/conditional.py \
    --workdir=w/conditional
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/conditional.py:mnist5k \
    --workdir=w/conditional_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (a label embedding joined to G's latent, a projection D; class accuracy) is
`jaxgan.recipes.apply(config, 'conditional')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment(
    'conditional', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan')
  )
