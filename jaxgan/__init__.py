"""jaxgan: generative adversarial networks in JAX/Flax, in a pure-functional style.

Importing the package changes nothing global (no XLA flags, no JAX settings);
`jaxgan.runtime.configure()` sets what the entry points set.
"""

__version__ = '0.1.0'
