"""One run per workdir (jaxgan/runlock.py), and runs refused before they touch anything."""

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys

import chex
import jax
import pytest

from jaxgan import checkpoint, runlock, seeds, train
from jaxgan.errors import RunLockedError
from tests.helpers import ROOT, launch, smoke_config

SMOKE = ['jaxgan.experiments.dcgan', '--config=experiments/dcgan/digits.py:smoke']


def _tree(path) -> dict[str, str]:
  """Every file under `path` by relative name -> sha256 of its bytes (and every directory)."""
  out = {}
  for root, dirs, files in os.walk(path):
    for name in dirs:
      out[os.path.relpath(os.path.join(root, name), path) + '/'] = 'dir'
    for name in files:
      full = os.path.join(root, name)
      with open(full, 'rb') as f:
        out[os.path.relpath(full, path)] = hashlib.sha256(f.read()).hexdigest()
  return out


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
  first = runlock.RunLock(str(tmp_path / 'w')).acquire()
  before = _tree(tmp_path / 'w')
  with pytest.raises(RunLockedError, match=rf'in use by another run \(pid {os.getpid()} on '):
    runlock.RunLock(str(tmp_path / 'w')).acquire()
  assert _tree(tmp_path / 'w') == before  # refused: nothing created, written or truncated
  first.release()
  assert (tmp_path / 'w' / runlock.LOCK_NAME).read_text() == ''  # a finished run leaves no record
  with runlock.RunLock(str(tmp_path / 'w')):
    record = json.loads((tmp_path / 'w' / runlock.LOCK_NAME).read_text())
    assert record['pid'] == os.getpid() and record['since']


def test_a_killed_holder_does_not_block_the_next_run(tmp_path, caplog):
  code = (
    'import sys, time; from jaxgan import runlock\n'
    f'runlock.RunLock({str(tmp_path)!r}).acquire(); print("locked", flush=True); time.sleep(60)\n'
  )
  holder = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'locked'
  with pytest.raises(RunLockedError, match=f'pid {holder.pid} on'):
    runlock.RunLock(str(tmp_path)).acquire()
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  with caplog.at_level(logging.WARNING), runlock.RunLock(str(tmp_path)):
    pass
  assert f'from a run that did not finish (pid {holder.pid} on' in caplog.text


def test_two_runs_started_together_one_trains_one_is_refused(tmp_path):
  """The same command started twice (a scheduler's retry): exactly one trains; the other
  exits 1 with one line naming the holder, and the finished run equals a run alone."""
  steps = ['--config.num_devices=1', '--config.train.num_steps=300']
  steps += ['--config.train.checkpoint_every=100', '--config.train.sample_every=100000']
  procs = [launch([*SMOKE, f'--workdir={tmp_path / "w"}', *steps]) for _ in range(2)]
  outs = [p.communicate(timeout=300)[0] for p in procs]
  codes = sorted(p.returncode for p in procs)
  assert codes == [0, 1], outs
  refused = outs[[p.returncode for p in procs].index(1)].strip().splitlines()[-1]
  winner = procs[[p.returncode for p in procs].index(0)].pid
  assert refused.startswith('error: ') and f'in use by another run (pid {winner} on' in refused
  config = smoke_config()
  config.train.num_steps, config.train.checkpoint_every = 300, 100
  config.train.sample_every = 100000
  train.train_and_evaluate(config, str(tmp_path / 'alone'))
  restore = lambda name: jax.tree.leaves(
    checkpoint.Checkpointer(str(tmp_path / name), create=False).restore(
      seeds.game_of(config).create_state(config)
    )
  )
  chex.assert_trees_all_equal(restore('w'), restore('alone'))


def _refuse(args: list[str], times: int) -> list[tuple[int, str, str]]:
  """Starts the same refused command `times` times at once: (exit status, stdout, stderr)."""
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  procs = [
    subprocess.Popen(
      [sys.executable, '-m', *args],
      cwd=ROOT,
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for _ in range(times)
  ]
  outs = [p.communicate(timeout=120) for p in procs]
  return [(p.returncode, out, err) for p, (out, err) in zip(procs, outs, strict=True)]


@pytest.mark.parametrize(
  'override,message',
  [
    ('--config.data.source=imagenet', "error: unknown config.data.source 'imagenet'"),
    ('--config.data.source=folder', "error: image folder '{empty}' holds no images"),
  ],
)
def test_a_refused_run_leaves_the_workdir_as_it_found_it(tmp_path, override, message):
  """Absent stays absent; a finished run's workdir stays byte-for-byte the same; stderr is
  exactly the one error line, every time (no traceback of a background thread after it)."""
  empty = tmp_path / 'empty'
  empty.mkdir()
  extra = [override, f'--config.data.path={empty}']
  absent = tmp_path / 'absent'
  for status, out, err in _refuse([*SMOKE, f'--workdir={absent}', *extra], times=3):
    assert status == 1 and out == '', (out, err)
    assert err.startswith(message.format(empty=empty)) and err.count('\n') == 1, err
  assert not absent.exists()
  config = smoke_config()
  config.train.num_steps = 3
  train.train_and_evaluate(config, str(tmp_path / 'done'))
  before = _tree(tmp_path / 'done')
  for status, _, err in _refuse([*SMOKE, f'--workdir={tmp_path / "done"}', *extra], times=2):
    assert status == 1 and err.count('\n') == 1, err
  assert _tree(tmp_path / 'done') == before
