"""XLA:CPU flags jaxgan adds by default, each one measured (benchmarks/README.md).

jaxlib 0.10's XLA:CPU hands convolutions to YNNPACK (`ynn_fusion` in the
compiled HLO). Its weight-gradient convolutions ran at half the speed of its
forwards here, and the whole train step was faster with convolutions left on
XLA's own path: DCGAN-32 +14%, DCGAN-64 +14%, CycleGAN-128 +10% (2-core CPU).

XLA reads `XLA_FLAGS` when JAX starts its CPU backend, so `import jaxgan`
adds them then; they do nothing if the backend already runs, and nothing on
GPU/TPU. `JAXGAN_DEFAULT_XLA_FLAGS=0` turns this off.

`cond` is `lax.cond` except on the CPU, where XLA can run convolutions inside a
conditional's branch 40-80 times slower than the same ones outside it (the
JAX issue "Convolution is significantly slower inside a loop body (CPU)").
StyleGAN2's lazy regularisers use it when its step is called without a phase;
the trainer and the bench pass one (`parallel.PhasedStep`: one compiled step per
phase, so no conditional at all, and no step computes a regulariser it skips).
"""

import importlib.metadata
import os
from collections.abc import Callable, MutableMapping
from typing import Any

import jax
import jax.numpy as jnp

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


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
  """`jax.lax.cond(pred, true_fun, false_fun, *operands)`, with both branches run on the CPU.

  On the CPU both branches are computed and their outputs selected by `pred`
  (the same values): a lazy regulariser then costs its work every step instead
  of 40-80 times its work every `interval` steps. One 32x32 StyleGAN2 D's R1
  gradient (batch 8, 128 maps, 2-core CPU, 2026-12-05): 0.29 s outside a
  conditional, 22.9 s inside one, so its train step averaged 1.84 s with
  `lax.cond` and takes 0.75 s with this. Not every branch is slowed so much:
  the DCGAN R1 recipe's lazy R1 ran 10.9 steps/s with `lax.cond` and 7.9 with
  this, so `steps.py` keeps `lax.cond`; measure before using it. Other
  platforms get `lax.cond` (the branch not taken costs nothing). The platform
  is the one the program is lowered for.
  """

  def select(*ops):
    chosen, other = true_fun(*ops), false_fun(*ops)
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), chosen, other)

  def branch(*ops):
    return jax.lax.cond(pred, true_fun, false_fun, *ops)

  return jax.lax.platform_dependent(*operands, cpu=select, default=branch)
