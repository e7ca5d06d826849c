"""Trains an unconditional GAN (DCGAN, or the 2-D MLP GAN) from a config file.

  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py --workdir=workdirs/digits
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py:smoke --workdir=/tmp/w \\
      --config.train.num_steps=20
"""

from absl import app, flags
from ml_collections import config_flags

from jaxgan import train
from jaxgan.experiments import cli

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  cli.run_or_exit(lambda: train.train_and_evaluate(_CONFIG.value, _WORKDIR.value))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
