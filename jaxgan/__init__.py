"""jaxgan: generative adversarial networks in JAX/Flax, in a pure-functional style."""

__version__ = '0.1.0'
