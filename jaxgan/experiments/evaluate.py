"""Evaluates a trained workdir: FID/KID/IS, precision/recall, density/coverage, memorisation, modes.

python -m jaxgan.experiments.evaluate --workdir=W --metrics=fid,kid,is,pr,dc,memorisation
    --n=N [--ref=train|tfds:NAME/SPLIT|DIR|stats.npz] [--features=inception|classifier|raw]
    [--resize=legacy|clean] [--inception_weights=FILE] [--checkpoint=latest|best|best:METRIC]
    [--seed_index=I]  (seed I of a run trained with --config.num_seeds=N)

Prints a table of the values with the conditions they were measured under and
writes WORKDIR/eval.json (see jaxgan/eval/offline.py).
"""

from absl import app, flags

from jaxgan.errors import JaxganError
from jaxgan.eval import offline, quality
from jaxgan.eval.options import METRICS, Options
from jaxgan.experiments import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir to evaluate.')
_DEFAULTS = Options()
_METRICS = flags.DEFINE_string(
  'metrics', ','.join(_DEFAULTS.metrics), f'Comma-separated: {",".join(METRICS)}.'
)
_N = flags.DEFINE_integer(
  'n', _DEFAULTS.n, 'Generated samples (and at most this many reference ones).'
)
_REF = flags.DEFINE_string(
  'ref', _DEFAULTS.ref, 'train, tfds:NAME[/SPLIT], an image folder or a .npz.'
)
_FEATURES = flags.DEFINE_string(
  'features', _DEFAULTS.features, 'inception, classifier or raw (default by data).'
)
_RESIZE = flags.DEFINE_enum('resize', _DEFAULTS.resize, ['legacy', 'clean'], "Inception's resize.")
_WEIGHTS = flags.DEFINE_string(
  'inception_weights', _DEFAULTS.inception_weights, 'Inception weights (.pth or TorchScript).'
)
_CHECKPOINT = flags.DEFINE_string('checkpoint', 'latest', 'latest, best or best:METRIC.')
_SEED_INDEX = flags.DEFINE_integer('seed_index', 0, 'Which seed of a config.num_seeds > 1 run.')
_SEED = flags.DEFINE_integer('seed', _DEFAULTS.seed, 'Latent seed of the samples.')
_EMA = flags.DEFINE_bool('ema', True, 'Use the EMA generator when the run kept one.')
_BATCH = flags.DEFINE_integer(
  'batch_size', _DEFAULTS.batch_size, 'Images per feature-extraction call.'
)
_TRUNCATION = flags.DEFINE_list(
  'truncation',
  [],
  'The truncation trick (unset: none): BigGAN threshold or StyleGAN2 psi; several values '
  '(e.g. 0.5,0.7,1.0) make a sweep, one table row each.',
)
_OUTPUT = flags.DEFINE_string('output', '', 'JSON file to write (default WORKDIR/eval.json).')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')

  def run():
    try:
      values = tuple(float(t) for t in _TRUNCATION.value)
    except ValueError:
      raise JaxganError(f'--truncation={",".join(_TRUNCATION.value)}: give numbers') from None
    truncation = values if len(values) > 1 else (values[0] if values else None)
    result = offline.evaluate_workdir(
      _WORKDIR.value,
      which=_CHECKPOINT.value,
      seed_index=_SEED_INDEX.value,
      use_ema=_EMA.value,
      output=_OUTPUT.value,
      truncation=truncation,
      metrics=_METRICS.value,
      n=_N.value,
      ref=_REF.value,
      features=_FEATURES.value,
      resize=_RESIZE.value,
      inception_weights=_WEIGHTS.value,
      batch_size=_BATCH.value,
      seed=_SEED.value,
    )
    print(f'{result["workdir"]} step {result["step"]} ({result["checkpoint"]} checkpoint)')
    if 'sweep' in result:
      print(quality.format_sweep(result['sweep'], result['settings']))
    else:
      print(quality.format_table(result['metrics'], result['settings']))
    for key in ('memorisation_grid', 'output'):
      if key in result:
        print(f'{key}: {result[key]}')

  cli.run_or_exit(run)


if __name__ == '__main__':
  app.run(main)
