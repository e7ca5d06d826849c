"""Trains an unconditional GAN (DCGAN, or the 2-D MLP GAN) from a config file.

  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py --workdir=workdirs/digits
  python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py:smoke --workdir=/tmp/w \\
      --config.train.num_steps=20
"""

from absl import app, flags
from ml_collections import config_flags

from jaxgan.experiments import cli

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.mark_flags_as_required(['config', 'workdir'])

main = cli.train_main(_CONFIG, _WORKDIR, 'jaxgan.experiments.dcgan')

if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
