"""Trains StyleGAN2 (with ADA) from a config file.

  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/digits.py \\
      --workdir=workdirs/sg2
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/digits.py:smoke \\
      --workdir=/tmp/w --config.train.num_steps=20
"""

from absl import app, flags
from ml_collections import config_flags

from jaxgan.experiments import cli

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.mark_flags_as_required(['config', 'workdir'])

main = cli.train_main(_CONFIG, _WORKDIR, 'jaxgan.experiments.stylegan2')

if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
