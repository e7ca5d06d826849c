"""DCGAN + lazy R1 (Mescheder et al. 2018) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/r1.py --workdir=w/r1
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/r1.py:mnist5k \
    --workdir=w/r1_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (R1 gamma 0.1 on real data, every 16 steps (times 16)) is
`jaxgan.recipes.apply(config, 'r1')` on the demo's config (experiments/dcgan/digits.py
or mnist5k.py): same model, data, steps and evaluation.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('r1', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
