"""Translates every image of a folder with a trained CycleGAN.

python -m jaxgan.experiments.translate --workdir=W --input=DIR --direction=ab --output=DIR
"""

from absl import app, flags, logging

from jaxgan import translate
from jaxgan.experiments import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A CycleGAN training workdir.')
_INPUT = flags.DEFINE_string('input', None, 'Folder of images to translate (recursive).')
_OUTPUT = flags.DEFINE_string('output', None, 'Folder for the translated PNGs.')
_DIRECTION = flags.DEFINE_enum('direction', 'ab', ['ab', 'ba'], 'ab: A -> B with g_ab.')
flags.mark_flags_as_required(['workdir', 'input', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')

  def run():
    written = translate.translate_folder(
      _WORKDIR.value, _INPUT.value, _OUTPUT.value, direction=_DIRECTION.value
    )
    logging.info('Wrote %d images to %s', len(written), _OUTPUT.value)
    print(f'{len(written)} images -> {_OUTPUT.value}')

  cli.run_or_exit(run)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
