"""Recipes of the field as changes to a DCGAN config: `apply(config, 'sngan')`.

Each recipe only sets config keys (losses, penalties, D's normalisation,
optimizers, augmentation), so any recipe composes with any data and model
size; `experiments/recipes/<name>.py` applies one to the digits or MNIST-5k
demo config, and experiments/README.md records what each measured.

- `dcgan`: the baseline (non-saturating loss, BatchNorm D, Adam 2e-4 / 0.5).
- `lsgan`: least-squares loss (Mao et al. 2017).
- `wgan_gp`: Wasserstein loss + gradient penalty 10, 5 critic updates per G
  update, Adam 1e-4 / (0, 0.9), no BatchNorm in the critic (Gulrajani et al. 2017).
- `sngan`: hinge loss + spectral normalisation of every D layer, Adam 2e-4 /
  (0.5, 0.999), one D update (Miyato et al. 2018, their n_dis = 1 setting).
- `ragan`: relativistic average loss (Jolicoeur-Martineau 2018).
- `r1`: non-saturating loss + lazy R1 (gamma 0.1 every 16 steps; Mescheder et al. 2018,
  Karras et al. 2020).
- `diffaug`: the baseline with DiffAugment colour, translation and cutout on everything
  D sees (Zhao et al. 2020).
- `began`: boundary-equilibrium GAN (Berthelot et al. 2017): an auto-encoder D whose
  output is the L1 reconstruction error, D minimising `L(x) - k_t L(G(z))`, G `L(G(z))`,
  k_t (in the state) steered to `gamma = 0.7`; Adam 1e-4 / 0.5 as the paper. Sized for
  short runs on small images: a 16-d code (the paper: 64 for 64x64 faces) and lambda_k
  0.01 (the paper: 0.001). With the paper's 64-d code, gamma 0.5 and lambda_k 0.001 the
  1,500-step digits run collapsed to one grey image (experiments/README.md). G stays the
  DCGAN generator (the paper's G is its decoder).
- `conditional`: class-conditional on the digit labels: a label embedding joins G's
  latent, a projection D (Miyato & Koyama 2018); evaluated by class accuracy too.
- `acgan`: class-conditional with an auxiliary-classifier D (Odena et al. 2017).
"""

import os
from collections.abc import Callable

import ml_collections

from jaxgan import configs, schema
from jaxgan.errors import ConfigError

ConfigDict = ml_collections.ConfigDict


def _dcgan(config: ConfigDict) -> None:
  del config


def _lsgan(config: ConfigDict) -> None:
  config.loss.name = 'least_squares'


def _wgan_gp(config: ConfigDict) -> None:
  config.loss.name = 'wasserstein'
  config.loss.gp_weight = 10.0
  config.loss.n_critic = 5
  config.model.d_norm = 'none'  # the penalty is per example: no batch statistics in the critic
  config.train.batch_size *= 5  # each of the 5 critic updates sees a batch of the old size
  config.optimizer.g = schema.adam(1e-4, 0.0, 0.9)
  config.optimizer.d = schema.adam(1e-4, 0.0, 0.9)


def _sngan(config: ConfigDict) -> None:
  config.loss.name = 'hinge'
  config.model.d_norm = 'spectral'
  config.optimizer.g = schema.adam(2e-4, 0.5, 0.999)
  config.optimizer.d = schema.adam(2e-4, 0.5, 0.999)


def _ragan(config: ConfigDict) -> None:
  config.loss.name = 'relativistic_average'


def _r1(config: ConfigDict) -> None:
  config.loss.r1_gamma = 0.1
  config.loss.r1_every = 16


def _began(config: ConfigDict) -> None:
  config.loss.name = 'began'
  config.loss.began_gamma = 0.7
  config.loss.began_lambda_k = 0.01
  config.model.d_arch = 'autoencoder'
  config.model.d_embed = 16
  config.model.d_norm = 'none'
  config.optimizer.g = schema.adam(1e-4, 0.5, 0.999)
  config.optimizer.d = schema.adam(1e-4, 0.5, 0.999)


def _diffaug(config: ConfigDict) -> None:
  config.loss.diffaug = 'color,translation,cutout'


def _class_conditional(config: ConfigDict, d_cond: str) -> None:
  config.model.num_classes = 10  # the digit classes of the digits and MNIST data
  config.model.d_cond = d_cond
  for section in config.get('evals', {}).values():
    if section.get('features') == 'classifier' and 'class_accuracy' not in section.metrics:
      section.metrics += ',class_accuracy'


def _conditional(config: ConfigDict) -> None:
  _class_conditional(config, 'projection')


def _acgan(config: ConfigDict) -> None:
  _class_conditional(config, 'acgan')


RECIPES: dict[str, Callable[[ConfigDict], None]] = {
  'dcgan': _dcgan,
  'lsgan': _lsgan,
  'wgan_gp': _wgan_gp,
  'sngan': _sngan,
  'ragan': _ragan,
  'r1': _r1,
  'diffaug': _diffaug,
  'began': _began,
  'conditional': _conditional,
  'acgan': _acgan,
}


def experiment(name: str, arg: str | None, dcgan_configs: str) -> ConfigDict:
  """The config of `experiments/recipes/<name>.py`: recipe `name` on the digits demo's config.

  `arg`: '' or 'mnist5k' (the real MNIST digits' config instead), then ',smoke' if
  wanted; `dcgan_configs`: the folder holding `digits.py` and `mnist5k.py`.
  """
  parts = [p for p in (arg or '').split(',') if p]
  data = 'mnist5k' if 'mnist5k' in parts else 'digits'
  rest = ','.join(p for p in parts if p != 'mnist5k') or None
  base = configs.load(os.path.join(dcgan_configs, f'{data}.py'))
  return configs.finalize(apply(base, name), rest)


def apply(config: ConfigDict, name: str) -> ConfigDict:
  """`config` changed by recipe `name` (in place, and returned)."""
  if name not in RECIPES:
    raise ConfigError(f'unknown recipe {name!r}; known: {", ".join(RECIPES)}')
  RECIPES[name](config)
  return config
