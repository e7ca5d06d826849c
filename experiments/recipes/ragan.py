"""RaGAN (Jolicoeur-Martineau 2018) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/ragan.py --workdir=w/ragan
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/ragan.py:mnist5k \
    --workdir=w/ragan_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (relativistic average loss) is `jaxgan.recipes.apply(config, 'ragan')` on the
demo's config (experiments/dcgan/digits.py or mnist5k.py): same model, data, steps and
evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('ragan', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
