"""jaxgan.state: building the game's pytree (both players, EMA, key) from the networks."""

import chex
import jax
import jax.numpy as jnp
import optax

from jaxgan import models
from jaxgan import state as state_lib

TX = optax.adam(2e-4, b1=0.5)


def test_state_creation_compiles_each_initialisation_once():
  """Eagerly, an init compiles every operation of the network on its own (92 programs for
  this pair; this test took 19 s that way, 5 s now); jaxgan compiles each as one program."""
  compiles = []
  listener = lambda event, duration, **kw: compiles.append(event)
  jax.monitoring.register_event_duration_secs_listener(listener)
  try:  # shapes no other test builds: nothing is compiled already
    g, d = models.create_models('dcgan', dict(size=28, channels=3, width=6, latent_dim=13))
    state = state_lib.create_gan_state(
      jax.random.key(0),
      generator=g,
      discriminator=d,
      g_tx=TX,
      d_tx=TX,
      g_inputs=[jnp.zeros((1, 13))],
      d_inputs=[jnp.zeros((1, 28, 28, 3))],
    )
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
  n = compiles.count('/jax/core/compile/backend_compile_duration')
  assert 2 <= n <= 40, n  # the two inits, plus the optimizer states' zeros and EMA copies
  chex.assert_tree_all_finite(state)
