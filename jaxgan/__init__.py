"""jaxgan: generative adversarial networks in JAX/Flax, in a pure-functional style."""

from jaxgan import compile_cache, xla_cpu

__version__ = '0.1.0'

xla_cpu.add_default_flags()  # before JAX starts its CPU backend; see jaxgan/xla_cpu.py
compile_cache.enable()  # JAX's persistent compilation cache; see jaxgan/compile_cache.py
