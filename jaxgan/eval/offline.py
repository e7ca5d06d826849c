"""The offline evaluation of a trained workdir: `evaluate_workdir` (the evaluate CLI's work).

The only module of `jaxgan.eval` that knows the games: it restores a
checkpoint, draws samples from its generator and measures them as training
does (`quality.Evaluation`).
"""

import dataclasses
import json
import os

from jaxgan import checkpoint, images, seeds, writers
from jaxgan.errors import ConfigError
from jaxgan.eval import quality, references
from jaxgan.eval.options import Options, is_2d, parse_metrics


def evaluate_workdir(
  workdir: str,
  options: Options | None = None,
  *,
  which: str = 'latest',
  seed_index: int = 0,
  use_ema: bool = True,
  output: str = '',
  truncation: float | tuple[float, ...] | None = None,
  **option_values,
) -> dict:
  """Evaluates a checkpoint of `workdir`; writes `eval.json` (and a line to `eval_history.jsonl`).

  Args:
    workdir: a training workdir.
    options: what to measure and against what (`Options()`: FID of 1,000 samples against
      the training data); `options.seed` seeds the latents.
    **option_values: `Options` fields that replace those of `options`, e.g.
      `metrics='fid,kid', n=2000` (metrics as a comma-separated string or a tuple).
    which: 'latest', 'best' or 'best:METRIC' (`checkpoint.checkpoint_name`).
    seed_index: which seed of a `config.num_seeds > 1` run.
    use_ema: the EMA generator where the run kept one.
    output: the JSON file to write ('' : `workdir/eval.json`).
    truncation: the game's truncation trick (None: none; `Game.truncate`); several values
      make a sweep: `result['sweep']` holds the metrics at each, measured against the same
      reference features, and `result['metrics']` those of the last.

  With `memorisation` on image data, also `eval/memorisation.png`: each
  sample beside its 3 nearest training images in pixels and in features.
  """
  if 'metrics' in option_values:
    option_values['metrics'] = parse_metrics(option_values['metrics'])
  unknown = sorted(set(option_values) - {f.name for f in dataclasses.fields(Options)})
  if unknown:
    raise ConfigError(f'unknown evaluation options {unknown}; see jaxgan.eval.options.Options')
  options = dataclasses.replace(options or Options(), **option_values)
  if options.n < 2:
    raise ConfigError(f'--n must be >= 2; got {options.n}')
  config, state = checkpoint.load_state(workdir, which, seed_index)
  game = seeds.game_of(config)
  evaluation = quality.Evaluation(options, config)
  labels = quality.balanced_labels(config, options.n)
  sweep = []
  for value in truncation if isinstance(truncation, tuple | list) else (truncation,):
    samples = quality.generate(
      state,
      game,
      options.n,
      seed=options.seed,
      use_ema=use_ema,
      labels=labels,
      truncation=value,
    )
    values, fake = evaluation(samples, labels)
    sweep.append({'truncation': value, 'metrics': values})
  result = {
    'workdir': os.path.abspath(workdir),
    'checkpoint': which,
    'seed_index': seed_index,
    'step': int(state.step),
    'ema': bool(use_ema and state.ema is not None),
    'seed': options.seed,
    'metrics': values,
    'settings': evaluation.settings(),
    'truncation': sweep[-1]['truncation'],
  }
  if len(sweep) > 1:
    result['sweep'] = sweep
  out_dir = os.path.join(workdir, 'eval')
  if 'memorisation' in options.metrics and evaluation.ref.data is not None and not is_2d(config):
    grid = quality.memorisation_grid(
      references.to_model_inputs(samples, evaluation.kind),
      fake['features'],
      evaluation.ref.data,
      evaluation.real['features'],
    )
    result['memorisation_grid'] = images.save_png(grid, os.path.join(out_dir, 'memorisation.png'))
  output = output or os.path.join(workdir, 'eval.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with writers.output_errors(output), open(output, 'w') as f:
    json.dump(writers.json_safe(result), f, indent=2)
  history = os.path.join(workdir, 'eval_history.jsonl')
  with writers.output_errors(history), open(history, 'a') as f:
    f.write(json.dumps(writers.json_safe(result)) + '\n')
  result['output'] = output
  return result
