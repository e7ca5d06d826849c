"""Trains CycleGAN from a config file (the same trainer, checkpoints and logs as DCGAN).

python -m jaxgan.experiments.cyclegan --config=experiments/cyclegan/digits.py --workdir=w/cg
"""

from absl import app, flags
from ml_collections import config_flags

from jaxgan.experiments import cli

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
flags.mark_flags_as_required(['config', 'workdir'])

main = cli.train_main(_CONFIG, _WORKDIR, 'jaxgan.experiments.cyclegan')

if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
