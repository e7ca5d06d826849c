"""Data parallelism: 1 and 8 devices agree (jit and pmap), checkpoints move across device
counts, and two processes on loopback train in lockstep with a single-process run."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import chex
import jax
import ml_collections
import numpy as np
import pytest

from jaxgan import checkpoint, configs, parallel, seeds, train
from jaxgan.errors import ConfigError
from jaxgan.games import gan
from tests.helpers import ROOT, load_config, smoke_config

STEPS = 3


def _tiny_config(mode='jit', num_devices=1, batch=16):
  config = smoke_config()
  config.model.size, config.model.width, config.model.latent_dim = 16, 4, 8
  config.train.batch_size = batch
  config.parallel, config.num_devices = mode, num_devices
  return config


def _train_steps(config, n_steps=STEPS):
  game = seeds.game_of(config)
  dp = parallel.DataParallel(config.parallel, config.num_devices)
  state = dp.put_state(game.create_state(config, axis_name=dp.axis_name))
  step = dp.compile(game.step_fn(config))
  batches = game.create_batches(config)
  losses = []
  for i in range(n_steps):
    state, metrics = step(state, dp.shard_batch(batches.batch(i)))
    losses.append(dp.fetch(metrics, per_device=True))  # waits every step: no deadlock
  if config.parallel == 'pmap':  # every device holds the same state: no silent divergence
    for leaf in jax.tree.leaves(state):
      copies = np.asarray(leaf)
      np.testing.assert_allclose(copies, np.broadcast_to(copies[:1], copies.shape), rtol=1e-6)
  return dp.fetch(dp.get_state(state)), losses


def _initial_leaves(config):
  """`(path, leaf)` of each leaf of `config`'s initial state."""
  return jax.tree_util.tree_flatten_with_path(seeds.game_of(config).create_state(config))[0]


def _assert_updates_agree(leaves, ref_leaves, initial_leaves, *, rel=1e-3, floor=0.0):
  """Each leaf's change from the initial state equals the reference's change to `rel` of
  the latter's largest element, plus float32 rounding of the values and `floor` (integer
  leaves: equal).

  Scaled per leaf, so a BatchNorm scale (1.0, moved ~6e-4 by three Adam steps) and
  Adam's second moments (~1e-8) are each held to their own movement; a tolerance on
  the values would pass the one whatever its update and the other whatever its value.
  Measured for DCGAN between 1 and 8 devices (jit and pmap): 7e-6 after three steps.
  """
  assert len(leaves) == len(ref_leaves) == len(initial_leaves)
  for ours, ref, (path, initial) in zip(leaves, ref_leaves, initial_leaves, strict=True):
    ours, ref, initial, name = (*map(np.asarray, (ours, ref, initial)), jax.tree_util.keystr(path))
    if not np.issubdtype(ref.dtype, np.floating):
      chex.assert_trees_all_equal({name: ours}, {name: ref})
      continue
    moved = ref.astype(np.float64) - initial
    tolerance = rel * np.abs(moved).max() + 1e-7 * np.abs(ref).max() + floor
    chex.assert_trees_all_close(
      {name: ours.astype(np.float64) - initial}, {name: moved}, rtol=0, atol=tolerance
    )


@pytest.fixture(scope='module')
def one_device_run():
  return _train_steps(_tiny_config('jit', 1))


@pytest.mark.parametrize('mode,num_devices', [('jit', 8), ('pmap', 8), ('pmap', 1)])
def test_devices_and_modes_agree(one_device_run, mode, num_devices):
  assert jax.device_count() == 8
  ref_state, ref_losses = one_device_run
  state, losses = _train_steps(_tiny_config(mode, num_devices))
  keys = ('d_loss', 'g_loss', 'd_real_logit', 'd_fake_logit', 'd_grad_norm', 'g_grad_norm')
  for ours, ref in zip(losses, ref_losses, strict=True):
    for key in keys:  # measured: 1.4e-7 relative at most
      np.testing.assert_allclose(ours[key], ref[key], rtol=2e-5, err_msg=key)
  _assert_updates_agree(
    jax.tree.leaves(state), jax.tree.leaves(ref_state), _initial_leaves(_tiny_config())
  )


def _tiny_translation_config(path, mode, num_devices):
  config = load_config(path, 'smoke')
  config.model.features = config.model.d_features = 4
  config.model.size, config.data.load_size = 16, 18
  if config.game == 'pix2pix':
    config.model.num_downs = 4
    config.model.dropout = 0.0  # masks are drawn per device under pmap: equal only without them
  if 'pool_size' in config.loss:
    config.loss.pool_size = 5  # batch 8: the pool fills, then swaps, in the first step
    # Conv biases before instance norm get zero gradients; Adam would blow their float noise
    # up to +-lr on each side. A small SGD step keeps the comparison to what the step computes.
    for who in ('g', 'd'):
      config.optimizer[who] = ml_collections.ConfigDict({'name': 'sgd', 'learning_rate': 1e-3})
  config.train.batch_size = 8
  config.parallel, config.num_devices = mode, num_devices
  return config


@pytest.mark.parametrize(
  'path', ['experiments/cyclegan/digits.py', 'experiments/pix2pix/digits.py']
)
def test_translation_games_agree_under_pmap(path):
  """CycleGAN's pool is drawn over the global batch; pix2pix's BatchNorm spans the devices."""
  config = _tiny_translation_config(path, 'jit', 1)
  ref_state, ref_losses = _train_steps(config, n_steps=2)
  state, losses = _train_steps(_tiny_translation_config(path, 'pmap', 8), n_steps=2)
  for ours, ref in zip(losses, ref_losses, strict=True):
    for key in ('d_loss', 'g_loss', 'g_grad_norm', 'd_grad_norm'):
      np.testing.assert_allclose(ours[key], ref[key], rtol=2e-4, atol=2e-5, err_msg=key)
  # Measured: 4e-3 of a pix2pix kernel's largest update on one element (Adam on a gradient
  # near zero); CycleGAN's conv biases before instance norm get zero gradients and move by
  # float noise alone (< 2e-9; its other leaves by > 5e-4).
  _assert_updates_agree(
    jax.tree.leaves(state),
    jax.tree.leaves(ref_state),
    _initial_leaves(config),
    rel=1e-2,
    floor=1e-8,
  )


def test_pmap_trainer_on_eight_devices_matches_jit(tmp_path):
  results = {}
  for mode, n in (('pmap', 8), ('jit', 1)):
    config = _tiny_config(mode, n)
    train.train_and_evaluate(config, str(tmp_path / mode))
    results[mode] = _restore_leaves(tmp_path / mode, config)
  _assert_updates_agree(results['pmap'], results['jit'], _initial_leaves(_tiny_config()))
  _assert_logs_agree(tmp_path / 'pmap', tmp_path / 'jit')


def test_cpu_meshes_wait_for_every_step():
  assert parallel.DataParallel('jit', 8).max_steps_in_flight == 1
  assert parallel.DataParallel('pmap', 8).max_steps_in_flight == 1
  assert parallel.DataParallel('jit', 1).max_steps_in_flight == parallel.MAX_STEPS_IN_FLIGHT


def test_bad_parallel_settings():
  with pytest.raises(ConfigError, match='does not divide over 8 devices'):
    parallel.DataParallel('jit', 8).check_batch_size(12)
  with pytest.raises(ConfigError, match="unknown config.parallel 'xmap'"):
    parallel.DataParallel('xmap', 1)
  with pytest.raises(ConfigError, match='device.s. are available'):
    parallel.DataParallel('jit', 9)
  config = _tiny_config('pmap', 8)
  config.loss.name = 'relativistic_average'
  with pytest.raises(ConfigError, match='per device'):
    configs.validate(config)


def _restore_leaves(workdir, config):
  ckpt = checkpoint.Checkpointer(str(workdir), create=False)
  state = ckpt.restore(gan.GAME.create_state(config))
  ckpt.close()
  return jax.tree.leaves(state)


def _assert_logs_agree(workdir, ref_workdir, rtol=2e-5):
  """The losses and gradient norms logged in `metrics.jsonl` at the steps both logged (a
  run logs no metrics for its first step: a resumed one lacks the step after the resume),
  the last step included."""
  read = lambda w: {
    r['step']: r for r in map(json.loads, (w / 'metrics.jsonl').read_text().splitlines())
  }
  ours, ref = read(workdir), read(ref_workdir)
  common = sorted(set(ours) & set(ref))
  assert common and common[-1] == max(ref) == max(ours), (sorted(ours), sorted(ref))
  for step in common:
    for key in ('d_loss', 'g_loss', 'd_grad_norm', 'g_grad_norm'):
      np.testing.assert_allclose(
        ours[step][key], ref[step][key], rtol=rtol, err_msg=f'{key} at step {step}'
      )


@pytest.mark.parametrize(
  'first,second',
  [(('jit', 8), ('jit', 1)), (('jit', 1), ('jit', 8)), (('jit', 1), ('pmap', 8))],
  ids=['jit8-jit1', 'jit1-jit8', 'jit1-pmap8'],
)
def test_checkpoints_move_across_device_counts(tmp_path, first, second, caplog):
  caplog.set_level('INFO', logger='absl')
  config = _tiny_config(*second)
  config.train.num_steps = 6
  train.train_and_evaluate(config, str(tmp_path / 'straight'))
  half = _tiny_config(*first)
  half.train.num_steps = 3
  train.train_and_evaluate(half, str(tmp_path / 'moved'))
  state = train.train_and_evaluate(config, str(tmp_path / 'moved'))
  # Resumed at 3 on the other placement (retrained from 0, it would end in the same state).
  assert f'Resumed from {tmp_path / "moved" / "checkpoints"} at step 3.' in caplog.text
  assert int(state.step) == 6
  _assert_updates_agree(
    _restore_leaves(tmp_path / 'moved', config),
    _restore_leaves(tmp_path / 'straight', config),
    _initial_leaves(config),
  )
  _assert_logs_agree(tmp_path / 'moved', tmp_path / 'straight')


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _launch_two(workdir, port, num_steps):
  env = dict(
    os.environ,
    JAX_PLATFORMS='cpu',
    PYTHONUNBUFFERED='1',
    XLA_FLAGS=os.environ['XLA_FLAGS'].replace('device_count=8', 'device_count=1'),
  )
  return [
    subprocess.Popen(
      [
        sys.executable,
        '-m',
        'jaxgan.experiments.dcgan',
        '--config=experiments/dcgan/digits.py:smoke',
        '--config.model.size=16',
        '--config.model.width=4',
        '--config.model.latent_dim=8',
        '--config.train.batch_size=8',
        '--config.train.checkpoint_every=5',
        f'--config.train.num_steps={num_steps}',
        f'--workdir={workdir}',
        '--config.distributed.enabled=True',
        f'--config.distributed.process_id={i}',
        f'--config.distributed.coordinator_address=127.0.0.1:{port}',
        '--config.distributed.num_processes=2',
      ],
      cwd=ROOT,
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
      start_new_session=True,
    )
    for i in range(2)
  ]


def _finish(procs, timeout=240):
  deadline, outputs = time.time() + timeout, []
  try:
    for proc in procs:
      outputs.append(proc.communicate(timeout=max(1, deadline - time.time()))[0])
  finally:
    for proc in procs:  # jax.distributed swallows SIGTERM: kill hard
      if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
  for proc, out in zip(procs, outputs, strict=True):
    assert proc.returncode == 0, out[-3000:]
  return outputs


def test_two_processes_preempted_agree_with_one(tmp_path):
  """A SIGTERM to one process of two: both save the same step and exit 0, and that
  checkpoint equals one process trained straight to the step."""
  workdir = tmp_path / 'mp'
  procs = _launch_two(workdir, _free_port(), num_steps=100_000)
  deadline = time.time() + 240
  while not any(p.name.isdigit() for p in (workdir / 'checkpoints').glob('*')):
    assert time.time() < deadline and all(p.poll() is None for p in procs), 'no checkpoint'
    time.sleep(0.2)
  procs[1].send_signal(signal.SIGTERM)  # the notice reaches one host only
  outputs = _finish(procs)
  saved = set()
  for out in outputs:
    found = re.findall(r'received: saved a checkpoint at step (\d+)', out)
    assert len(found) == 1, out[-3000:]
    saved.add(int(found[0]))
  (stopped,) = saved  # the same step on both processes
  assert stopped < 100_000
  ckpt = checkpoint.Checkpointer(str(workdir), create=False)
  assert stopped in ckpt.manager.all_steps()
  ckpt.close()

  # Only process 0 writes logs; both took part in the checkpoints.
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert len(lines) == len({line.split(',')[0] for line in lines})  # one writer
  config = smoke_config()
  config.model.size, config.model.width, config.model.latent_dim = 16, 4, 8
  config.train.batch_size, config.train.num_steps = 8, stopped  # straight to that step
  train.train_and_evaluate(config, str(tmp_path / 'sp'))
  _assert_updates_agree(
    _restore_leaves(workdir, config),
    _restore_leaves(tmp_path / 'sp', config),
    _initial_leaves(config),
  )
