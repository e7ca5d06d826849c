"""XLA:CPU flags jaxgan adds by default, each one measured (benchmarks/README.md).

jaxlib 0.10's XLA:CPU hands convolutions to YNNPACK (`ynn_fusion` in the
compiled HLO). Its weight-gradient convolutions ran at half the speed of its
forwards here, and the whole train step was faster with convolutions left on
XLA's own path: DCGAN-32 +14%, DCGAN-64 +14%, CycleGAN-128 +10% (2-core CPU).

XLA reads `XLA_FLAGS` when JAX starts its CPU backend, so `import jaxgan`
adds them then; they do nothing if the backend already runs, and nothing on
GPU/TPU. `JAXGAN_DEFAULT_XLA_FLAGS=0` turns this off.
"""

import importlib.metadata
import os
from collections.abc import MutableMapping

FLAGS = ('--xla_cpu_experimental_ynn_fusion_type=-individual_convolution',)
# An XLA flag unknown to a jaxlib aborts the process: add them only where measured.
MEASURED_JAXLIB = '0.10.'
OPT_OUT = 'JAXGAN_DEFAULT_XLA_FLAGS'


def add_default_flags(environ: MutableMapping[str, str] = os.environ) -> list[str]:
  """Appends `FLAGS` to `environ['XLA_FLAGS']`; returns the flags it added.

  Adds nothing when `JAXGAN_DEFAULT_XLA_FLAGS=0`, for a flag `XLA_FLAGS`
  already names (the user's value wins), or on a jaxlib other than 0.10.x.
  """
  if environ.get(OPT_OUT, '1') == '0':
    return []
  try:
    version = importlib.metadata.version('jaxlib')
  except importlib.metadata.PackageNotFoundError:
    return []
  if not version.startswith(MEASURED_JAXLIB):
    return []
  current = environ.get('XLA_FLAGS', '')
  added = [f for f in FLAGS if f.split('=')[0] not in current]
  if added:
    environ['XLA_FLAGS'] = ' '.join([current, *added]).strip()
  return added
