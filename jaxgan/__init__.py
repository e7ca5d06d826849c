"""jaxgan: generative adversarial networks in JAX/Flax, in a pure-functional style."""

from jaxgan import xla_cpu

__version__ = '0.1.0'

xla_cpu.add_default_flags()  # before JAX starts its CPU backend; see jaxgan/xla_cpu.py
