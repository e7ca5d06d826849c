"""The one module that knows about devices: the mesh, placement and the compiled step.

Two modes, one result. `jit` (default): the state is replicated over a 1-D
`data` mesh of every device of every process, the global batch is split along
it, and the compiler partitions the global computation (gradients averaged,
BatchNorm statistics over the global batch). `pmap`: the same data-parallel
step written explicitly — `lax.pmean` of gradients and metrics in the step,
BatchNorm layers built with the `data` axis name — in one process. With the
same seed and global batch, 1 and N devices train the same model to float
tolerance in both modes (tests/test_parallel.py).
"""

import functools
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan.errors import ConfigError

AXIS = 'data'
MODES = ('jit', 'pmap')

# How many steps the host may queue ahead of the devices before it waits. On a
# CPU backend with several devices, a step queued behind another can hold the
# threads the first step's all-reduce rendezvous needs: it aborts after 40 s
# ("Termination timeout for 'all reduce'") or, across processes, hangs. Waiting
# every 2 steps still aborted once in 20 runs of the test suite here, so CPU
# meshes wait for every step (they are for tests; the cost is small there).
MAX_STEPS_IN_FLIGHT = 20
MAX_STEPS_IN_FLIGHT_CPU_MESH = 1


def initialize_distributed(config: ml_collections.ConfigDict) -> None:
  """`jax.distributed.initialize` from `config.distributed` (before any device use).

  Empty fields are left to JAX: `JAX_COORDINATOR_ADDRESS`, and auto-detection
  on Cloud TPU, SLURM and the other clusters JAX knows.
  """
  if not config.enabled or jax.distributed.is_initialized():
    return
  kwargs = {}
  if config.coordinator_address:
    kwargs['coordinator_address'] = config.coordinator_address
  if config.num_processes:
    kwargs['num_processes'] = config.num_processes
  if config.process_id >= 0:
    kwargs['process_id'] = config.process_id
  jax.distributed.initialize(**kwargs)


def create_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh `('data',)` over the first `num_devices` devices (0: all of them)."""
  devices = jax.devices()
  if num_devices < 0 or num_devices > len(devices):
    raise ConfigError(
      f'config.num_devices={num_devices}, but {len(devices)} device(s) are available (0 uses all)'
    )
  if num_devices and jax.process_count() > 1 and num_devices != len(devices):
    raise ConfigError('config.num_devices must be 0 (all devices) with several processes')
  return Mesh(np.array(devices[: num_devices or len(devices)]), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def data_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec(AXIS))


class DataParallel:
  """Places the state and batches and compiles the step for one of `MODES`."""

  def __init__(self, mode: str = 'jit', num_devices: int = 0):
    if mode not in MODES:
      raise ConfigError(f'unknown config.parallel {mode!r}; known: {", ".join(MODES)}')
    if mode == 'pmap' and jax.process_count() > 1:
      raise ConfigError("config.parallel='pmap' runs in one process; use 'jit' across processes")
    self.mode = mode
    self.mesh = create_mesh(num_devices)
    self.devices = list(self.mesh.devices.flat)

  @property
  def size(self) -> int:
    return self.mesh.size

  @property
  def max_steps_in_flight(self) -> int:
    """Steps the trainer may dispatch before waiting for one (see the constants above)."""
    cpu_mesh = self.devices[0].platform == 'cpu' and (self.size > 1 or jax.process_count() > 1)
    return MAX_STEPS_IN_FLIGHT_CPU_MESH if cpu_mesh else MAX_STEPS_IN_FLIGHT

  @property
  def axis_name(self) -> str | None:
    """The collective axis the step and BatchNorm must name (pmap only)."""
    return AXIS if self.mode == 'pmap' else None

  def check_batch_size(self, global_batch: int) -> None:
    if global_batch % self.size:
      raise ConfigError(
        f'global batch {global_batch} does not divide over {self.size} devices; '
        f'set config.train.batch_size to a multiple of {self.size}'
      )

  def put_state(self, state: Any) -> Any:
    """A host or single-device state -> this mode's placement (replicated)."""
    if self.mode == 'jit':
      return jax.device_put(state, replicated(self.mesh))
    n = self.size
    stacked = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (n, *np.shape(x))), state)
    return jax.pmap(lambda tree: tree, devices=self.devices)(stacked)

  def get_state(self, placed: Any) -> Any:
    """The placed state as one logical state (for checkpoints and sampling)."""
    if self.mode == 'jit':
      return placed
    # The first local device's copy, read on that device alone: `x[0]` would be a program
    # over every device, whose rendezvous an overloaded CPU mesh can time out (an abort).
    return jax.tree.map(lambda x: x.addressable_shards[0].data[0], placed)

  def replicate(self, tree: Any) -> Any:
    """Host arrays -> replicated over the mesh (inputs of jitted eval functions)."""
    if self.mode == 'jit':
      return jax.device_put(tree, replicated(self.mesh))
    return tree

  def shard_batch(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
    """This process's slice of the global batch -> the step's batch argument."""
    if self.mode == 'pmap':
      return {
        k: v.reshape(self.size, v.shape[0] // self.size, *v.shape[1:]) for k, v in batch.items()
      }
    sharding = data_sharded(self.mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in batch.items()}

  def abstract_batch(self, spec: dict[str, tuple[tuple[int, ...], Any]]) -> dict[str, Any]:
    """This process's batch spec `{key: (shape, dtype)}` -> the step's batch argument, abstract."""
    out = {}
    for key, (shape, dtype) in spec.items():
      if self.mode == 'pmap':
        out[key] = jax.ShapeDtypeStruct((self.size, shape[0] // self.size, *shape[1:]), dtype)
      else:
        shape = (shape[0] * jax.process_count(), *shape[1:])
        out[key] = jax.ShapeDtypeStruct(shape, dtype, sharding=data_sharded(self.mesh))
    return out

  def compile_ahead(self, step: Callable, state: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """`(executable, bytes)`: `self.compile`'s step compiled now for these shapes, and the
    memory one device needs to run it (arguments + outputs + temporaries - donated)."""
    compiled = step.lower(state, batch).compile()
    stats = compiled.memory_analysis()
    if stats is None:
      return compiled, 0
    need = (
      stats.argument_size_in_bytes
      + stats.output_size_in_bytes
      + stats.temp_size_in_bytes
      - stats.alias_size_in_bytes
    )
    return compiled, int(need)

  def compile(self, step_fn: Callable) -> Callable:
    """`step_fn(state, batch, *, axis_name=None)` compiled for this mode; state donated."""
    if self.mode == 'pmap':
      return jax.pmap(
        functools.partial(step_fn, axis_name=AXIS),
        axis_name=AXIS,
        devices=self.devices,
        donate_argnums=(0,),
      )
    return jax.jit(
      step_fn,
      in_shardings=(replicated(self.mesh), data_sharded(self.mesh)),
      out_shardings=(replicated(self.mesh), replicated(self.mesh)),
      donate_argnums=(0,),
    )

  def compile_phased(
    self, game: Any, config: Any, ready: Callable[[Callable, Any, Any], Callable] | None = None
  ) -> 'PhasedStep':
    """`game`'s step for `config` as a `PhasedStep`: compiled once per phase, on first use.

    Args:
      game: a game (`jaxgan.games.Game`).
      config: its config.
      ready: `ready(jitted, state, batch) -> callable`, run on each phase's step before
        its first call (the trainer compiles it there and checks its memory).
    """
    return PhasedStep(self, game, config, ready)

  def apply_in_chunks(
    self, fn: Callable, state: Any, x: np.ndarray, chunk: int = 64, **kwargs
  ) -> np.ndarray:
    """`fn(state, x_chunk, **kwargs)` over `x` in chunks, fetched and concatenated on the host."""
    return np.concatenate(
      [
        self.fetch(fn(state, self.replicate(x[i : i + chunk]), **kwargs))
        for i in range(0, len(x), chunk)
      ]
    )

  def fetch(self, tree: Any, *, per_device: bool = False) -> Any:
    """Replicated device values -> numpy on this host (any process, either mode).

    Args:
      tree: arrays replicated over the mesh.
      per_device: the values carry pmap's leading device axis (outputs of the
        compiled step, or the placed state); its first entry is returned.
    """

    def one(x):
      if isinstance(x, jax.Array) and not x.is_fully_addressable:
        x = x.addressable_data(0)
      x = np.asarray(x)
      return x[0] if per_device and self.mode == 'pmap' else x

    return jax.tree.map(one, tree)


class PhasedStep:
  """`step(state, batch, index)`: a game's step compiled once per static phase.

  `index` is the state's step before the update (the host counts it; reading
  `state.step` would wait for the device). A game whose `step_phase` is None
  gets one compiled step, the plain `step_fn(config)`; a game with lazy
  regularisers gets one per phase (StyleGAN2: with and without R1), so no step
  pays for a regulariser it skips, on any platform, with no conditional in
  the compiled program.
  """

  def __init__(self, dp: DataParallel, game: Any, config: Any, ready=None):
    self._dp, self._game, self._config, self._ready = dp, game, config, ready
    self.compiled: dict[Any, Callable] = {}

  def phase(self, index: int) -> Any:
    return self._game.step_phase(self._config, index)

  def get(self, index: int, state: Any, batch: Any) -> Callable:
    """The compiled step of the update at `index` (compiling it for these shapes if new)."""
    key = self.phase(index)
    if key not in self.compiled:
      game, config = self._game, self._config
      fn = game.step_fn(config) if key is None else game.step_fn(config, phase=key)
      step = self._dp.compile(fn)
      self.compiled[key] = step if self._ready is None else self._ready(step, state, batch)
    return self.compiled[key]

  def __call__(self, state: Any, batch: Any, index: int) -> tuple[Any, Any]:
    return self.get(index, state, batch)(state, batch)
