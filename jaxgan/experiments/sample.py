"""Writes samples of a trained workdir.

python -m jaxgan.experiments.sample --workdir=W --n=64 [--interpolate] [--output=F]
    [--format=png|npy] [--seed=0] [--noema] [--checkpoint=latest|best|best:METRIC]
    [--seed_index=I]  (seed I of a run trained with --config.num_seeds=N)
    [--label=K|rows]  (class-conditional runs: class K, or one row per class)
    [--truncation=T]  (BigGAN: z redrawn inside T; StyleGAN2: psi T toward w_avg)
    [--noise=random|const|none]  (StyleGAN2's noise inputs; default const)
python -m jaxgan.experiments.sample --workdir=W --style_mixing=3,5 [--mixing_layers=coarse]
    (StyleGAN2: rows' coarse|middle|fine|N|START:STOP styles x columns' others)
python -m jaxgan.experiments.sample --workdir=W --arithmetic=class:7,class:1,class:3
python -m jaxgan.experiments.sample --workdir=W --arithmetic=3+7+12,1+5,20 --n=64 --seed=0
"""

from absl import app, flags, logging

from jaxgan import sample
from jaxgan.errors import ConfigError
from jaxgan.experiments import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir to sample from.')
_N = flags.DEFINE_integer(
  'n', 64, 'Number of samples (rows with --interpolate and --truncation_row).'
)
_INTERPOLATE = flags.DEFINE_bool(
  'interpolate', False, 'Rows between random latents: slerp in z; StyleGAN2, linear in W.'
)
_OUTPUT = flags.DEFINE_string('output', '', 'Output file (default: WORKDIR/samples/...).')
_FORMAT = flags.DEFINE_enum('format', 'png', sample.FORMATS, 'PNG grid or raw .npy outputs.')
_SEED = flags.DEFINE_integer('seed', 0, 'Latent seed.')
_EMA = flags.DEFINE_bool('ema', True, 'Use the EMA generator when the run kept one.')
_CHECKPOINT = flags.DEFINE_string('checkpoint', 'latest', 'latest, best or best:METRIC.')
_SEED_INDEX = flags.DEFINE_integer('seed_index', 0, 'Which seed of a config.num_seeds > 1 run.')
_LABEL = flags.DEFINE_string(
  'label', '', 'Class-conditional runs: K (every sample of class K) or rows (a row per class).'
)
_TRUNCATION = flags.DEFINE_float(
  'truncation',
  None,
  'The truncation trick (unset: none): a latent threshold (BigGAN: components beyond it redrawn) '
  'or StyleGAN2 psi in [0, 1] (styles toward their mean).',
)
_ARITHMETIC = flags.DEFINE_string(
  'arithmetic',
  '',
  'A,B,C: a grid of G(mean(A) - mean(B) + mean(C)); each group class:K (labelled by the digit '
  'classifier) or indices of the --n/--seed grid joined by + (e.g. 3+7+12,1+5,20).',
)
_NOISE = flags.DEFINE_enum(
  'noise',
  None,
  ['random', 'const', 'none'],
  "StyleGAN2's noise inputs (unset: const): drawn afresh from --seed, G's fixed noise, or zero.",
)
_STYLE_MIXING = flags.DEFINE_string(
  'style_mixing',
  '',
  'ROWS,COLS: a StyleGAN2 style-mixing grid, the sources in the first row and column, cell '
  "(i, j) row i's --mixing_layers styles with column j's others.",
)
_MIXING_LAYERS = flags.DEFINE_string(
  'mixing_layers',
  'coarse',
  "The row sources' styles in --style_mixing: coarse (4x4-8x8), middle (16x16-32x32), fine "
  '(64x64 and up), N (the first N) or START:STOP.',
)
_TRUNCATION_ROW = flags.DEFINE_string(
  'truncation_row',
  '',
  'A,B,...: a grid of --n latents (rows) under each truncation (columns), e.g. 1,0.7,0.5,0 '
  '(StyleGAN2 psi; none: no truncation).',
)
flags.mark_flags_as_required(['workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')

  def run():
    modes = (_ARITHMETIC.value, _STYLE_MIXING.value, _INTERPOLATE.value, _TRUNCATION_ROW.value)
    if sum(map(bool, modes)) > 1:
      raise ConfigError(
        'give one of --arithmetic, --style_mixing, --interpolate and --truncation_row'
      )
    if _TRUNCATION_ROW.value and _TRUNCATION.value is not None:
      raise ConfigError('--truncation_row sets the truncations; leave --truncation out')
    common = dict(
      output=_OUTPUT.value,
      seed=_SEED.value,
      use_ema=_EMA.value,
      which=_CHECKPOINT.value,
      seed_index=_SEED_INDEX.value,
    )
    styled = dict(
      fmt=_FORMAT.value,
      label=_LABEL.value,
      truncation=_TRUNCATION.value,
      noise=_NOISE.value or '',
      **common,
    )
    if _ARITHMETIC.value:
      path = sample.arithmetic(_WORKDIR.value, _ARITHMETIC.value, n=_N.value, **common)
    elif _STYLE_MIXING.value:
      path = sample.style_mixing(
        _WORKDIR.value, _STYLE_MIXING.value, layers=_MIXING_LAYERS.value, **styled
      )
    elif _TRUNCATION_ROW.value:
      styled.pop('truncation')
      path = sample.truncation_row(_WORKDIR.value, _TRUNCATION_ROW.value, n=_N.value, **styled)
    else:
      path = sample.sample_from_workdir(
        _WORKDIR.value, n=_N.value, interpolate=_INTERPOLATE.value, **styled
      )
    logging.info('Wrote %s', path)
    print(path)

  cli.run_or_exit(run)


if __name__ == '__main__':
  app.run(main)
