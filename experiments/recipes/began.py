"""BEGAN (Berthelot et al. 2017) on the bundled digits (`:mnist5k`: real MNIST).

Command:
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/began.py --workdir=w/began
  python -m jaxgan.experiments.dcgan --config=experiments/recipes/began.py:mnist5k \
    --workdir=w/began_m
Expected: experiments/README.md (classifier FID, class coverage, wall time beside the others).

The recipe (an auto-encoder D with a 16-d code whose output is the L1 reconstruction
error, the equilibrium term k_t in the state, steered to gamma 0.7 with lambda_k 0.01;
Adam 1e-4 / 0.5) is `jaxgan.recipes.apply(config, 'began')` on the demo's config
(experiments/dcgan/digits.py or mnist5k.py): same G, data, steps and evaluation. The
log's `began_k` is k_t and `convergence` BEGAN's global measure L(x) + |gamma L(x) - L(G(z))|.
"""

import os

from jaxgan import recipes


def get_config(arg=None):
  return recipes.experiment('began', arg, os.path.join(os.path.dirname(__file__), '..', 'dcgan'))
