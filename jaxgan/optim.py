"""Optimizers from config: an optax transformation by name, with an optional LR schedule."""

import ml_collections
import optax

from jaxgan.errors import ConfigError

OPTIMIZERS = {
  'adam': optax.adam,
  'adamw': optax.adamw,
  'rmsprop': optax.rmsprop,
  'sgd': optax.sgd,
}


def create_optimizer(config: ml_collections.ConfigDict, who: str) -> optax.GradientTransformation:
  """An optax optimizer from `{'name': ..., **kwargs}`.

  `constant_steps` and `decay_steps` (optional) make the learning rate
  constant for `constant_steps`, then decay linearly to 0 over `decay_steps`.
  """
  kwargs = dict(config)
  name = kwargs.pop('name')
  constant_steps = kwargs.pop('constant_steps', None)
  decay_steps = kwargs.pop('decay_steps', None)
  if name not in OPTIMIZERS:
    raise ConfigError(
      f'unknown config.optimizer.{who}.name {name!r}; known: {", ".join(sorted(OPTIMIZERS))}'
    )
  if decay_steps:
    lr = kwargs['learning_rate']
    kwargs['learning_rate'] = optax.join_schedules(
      [optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, decay_steps)],
      [constant_steps or 0],
    )
  try:
    return OPTIMIZERS[name](**kwargs)
  except TypeError as e:
    raise ConfigError(f'config.optimizer.{who}: {e}') from e
