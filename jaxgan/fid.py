"""FID between two sets of images, or one set's statistics saved (`jaxgan.eval.compare.fid`).

python -m jaxgan.fid A B [--metrics=fid,kid,pr,dc] [--resize=legacy|clean] [--n=N]
    [--batch=B] [--inception_weights=FILE] [--save-stats=OUT.npz [--save-features]]
    [--json=FILE|-] [--seed=S]
python -m jaxgan.fid A --save-stats=OUT.npz

A and B are each an image folder, a `.npz` of statistics (`mu`, `sigma`:
pytorch-fid's, clean-fid's or jaxgan's) or features, `tfds:NAME[/SPLIT]`, or a
jaxgan workdir (a folder with `checkpoints/`: samples of its generator). A is
the reference; `--save-stats` saves A's statistics. Prints the metrics and one
line per set with its count and conditions; `--json=FILE` writes the result
as JSON, `--json=-` prints it as the last line. On several hosts, run the same
command on each with `--distributed` (each reads its slice of the sets).
"""

import json

import jax
import ml_collections
from absl import app, flags

from jaxgan import parallel
from jaxgan.errors import OutputError
from jaxgan.eval import compare
from jaxgan.experiments import cli

_METRICS = flags.DEFINE_string('metrics', 'fid', f'Comma-separated: {",".join(compare.METRICS)}.')
_RESIZE = flags.DEFINE_string('resize', '', "legacy or clean ('': a stats file's, else legacy).")
_N = flags.DEFINE_integer('n', 0, "At most N images per set (0: all); a workdir's sample count.")
_BATCH = flags.DEFINE_integer('batch', 50, 'Images per compiled Inception call.')
_WEIGHTS = flags.DEFINE_string('inception_weights', '', 'Inception weights (.pth or TorchScript).')
_SAVE = flags.DEFINE_string('save-stats', '', "Write A's statistics (mu, sigma, conditions) here.")
_SAVE_FEATURES = flags.DEFINE_bool('save-features', False, 'Also write the features (for KID).')
_JSON = flags.DEFINE_string('json', '', 'Write the result as JSON to FILE; - prints it last.')
_SEED = flags.DEFINE_integer('seed', 0, "Seed of the subsets of --n and of a workdir's latents.")
_DISTRIBUTED = flags.DEFINE_bool('distributed', False, 'Several hosts: jax.distributed first.')
_COORDINATOR = flags.DEFINE_string('coordinator_address', '', 'host:port of process 0.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', 0, 'Processes (0: JAX detects).')
_PROCESS_ID = flags.DEFINE_integer('process_id', -1, 'This process (-1: JAX detects).')


def main(argv):
  if not 2 <= len(argv) <= 3:
    raise app.UsageError('name one or two sets: python -m jaxgan.fid A [B] [--flags]')

  def run():
    parallel.initialize_distributed(
      ml_collections.ConfigDict(
        {
          'enabled': _DISTRIBUTED.value,
          'coordinator_address': _COORDINATOR.value,
          'num_processes': _NUM_PROCESSES.value,
          'process_id': _PROCESS_ID.value,
        }
      )
    )
    result = compare.fid(
      *argv[1:],
      metrics=_METRICS.value,
      resize=_RESIZE.value,
      n=_N.value,
      batch_size=_BATCH.value,
      inception_weights=_WEIGHTS.value,
      save_stats=_SAVE.value,
      save_features=_SAVE_FEATURES.value,
      seed=_SEED.value,
    )
    if jax.process_index() != 0:
      return
    print(compare.format_table(result))
    if 'saved' in result:
      print(f'saved: {result["saved"]}')
    text = json.dumps(compare.as_json_ready(result))
    if _JSON.value == '-':
      print(text)
    elif _JSON.value:
      try:
        with open(_JSON.value, 'w') as f:
          f.write(text + '\n')
      except OSError as e:
        raise OutputError(f'cannot write {_JSON.value}: {e.strerror or e}') from e

  cli.run_or_exit(run)


if __name__ == '__main__':
  app.run(main)
