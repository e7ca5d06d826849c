"""The one module that knows about devices: the mesh, shardings and the compiled step.

The state is replicated over a 1-D `data` mesh and the global batch is split
along it; under `jit` the per-device gradients are averaged by the compiler
(GSPMD) and BatchNorm statistics are taken over the global batch, so one
device and N devices compute the same function.
"""

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan.errors import ConfigError

# Waiting for a result at least this often keeps a host from queueing many
# collective steps ahead of the devices, which deadlocks on CPU meshes (an
# all-reduce rendezvous timeout); waits every <= 25 steps were reliable.
MAX_STEPS_IN_FLIGHT = 20


def create_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh `('data',)` over the first `num_devices` devices (0: all of them)."""
  devices = jax.devices()
  if num_devices < 0 or num_devices > len(devices):
    raise ConfigError(
      f'config.parallel.num_devices={num_devices}, but {len(devices)} '
      'device(s) are available (0 uses all)'
    )
  n = num_devices or len(devices)
  return Mesh(np.array(devices[:n]), ('data',))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def data_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec('data'))


def check_batch_size(global_batch: int, mesh: Mesh) -> None:
  if global_batch % mesh.size:
    raise ConfigError(
      f'global batch {global_batch} does not divide over {mesh.size} devices; '
      f'set config.train.batch_size to a multiple of {mesh.size}'
    )


def replicate(tree: Any, mesh: Mesh) -> Any:
  return jax.device_put(tree, replicated(mesh))


def shard_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """This process's slice of the global batch -> one global array sharded on `data`."""
  sharding = data_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}


def compile_train_step(step_fn: Callable, mesh: Mesh) -> Callable:
  """`jit(step_fn)` with a replicated, donated state and a data-sharded batch."""
  return jax.jit(
    step_fn,
    in_shardings=(replicated(mesh), data_sharded(mesh)),
    out_shardings=(replicated(mesh), replicated(mesh)),
    donate_argnums=(0,),
  )
