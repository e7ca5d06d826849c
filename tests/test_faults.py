"""Faults: a save that really fails stops the run; unreadable checkpoints fall back."""

import collections
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from unittest import mock

import chex
import hypothesis
import jax
import numpy as np
import pytest
from absl import flags
from hypothesis import strategies as st
from ml_collections import config_flags

from jaxgan import checkpoint, schema, train
from jaxgan.data import pipeline
from jaxgan.errors import CheckpointError, JaxganError, NonFiniteError
from jaxgan.experiments import cli
from jaxgan.games import gan
from tests.helpers import ROOT, launch, load_config, smoke_config


def _wait_for(path, proc, timeout=120):
  deadline = time.time() + timeout
  while not path.exists():
    if proc.poll() is not None or time.time() > deadline:
      proc.kill()
      pytest.fail(f'{path} never appeared:\n{proc.communicate()[0][-3000:]}')
    time.sleep(0.05)


@contextlib.contextmanager
def _tmpfs(path, size='48m'):
  """A tmpfs of `size` mounted at `path` (a full disk to be), unmounted on exit.

  Skips the test, saying why, where this process may not mount one (not root, or a
  container without the capability).
  """
  path.mkdir()
  if os.geteuid() != 0:
    pytest.skip('a really full disk needs a tmpfs mount, which needs root: not root here')
  mount = subprocess.run(
    ['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
    capture_output=True,
    text=True,
  )
  if mount.returncode:
    pytest.skip(f'a really full disk needs a tmpfs mount: {mount.stderr.strip() or mount}')
  try:
    yield path
  finally:
    if subprocess.run(['umount', str(path)], capture_output=True).returncode:
      subprocess.run(['umount', '-l', str(path)], check=True)  # busy: detach now, free later


def _fill(disk, leave: int) -> None:
  """Takes the free space of the filesystem of `disk` down to about `leave` bytes."""
  with open(disk / 'filler', 'ab') as f:
    size = os.fstat(f.fileno()).st_size
    os.posix_fallocate(f.fileno(), size, max(shutil.disk_usage(disk).free - leave, 1))


@pytest.mark.parametrize('fault', ['file_size_limit', 'full_disk'])
def test_a_save_that_fails_stops_the_run_with_one_line(tmp_path, fault):
  """A real write failure after the first checkpoint: RLIMIT_FSIZE (as a quota would),
  or a filesystem that is really full (a small tmpfs, filled; where mounting is allowed).

  Python ignores SIGXFSZ, so writes past the limit fail with EFBIG in every
  thread of the trainer, Orbax's background save included; a full disk fails them
  with ENOSPC. Before the fix the trainer hung; now it must exit 1 within seconds,
  saying which save failed, with the earlier checkpoint intact and resumable.
  """
  with contextlib.ExitStack() as stack:
    if fault == 'full_disk':
      disk = stack.enter_context(_tmpfs(tmp_path / 'disk'))
      workdir = disk / 'w'
      _fill(disk, leave=4 << 20)  # room for the start and the first checkpoint (0.6 MiB)
    else:
      workdir = tmp_path / 'w'
    args = [
      'jaxgan.experiments.dcgan',
      '--config=experiments/dcgan/digits.py:smoke',
      f'--workdir={workdir}',
      '--config.num_devices=1',
      '--config.train.num_steps=100000',
      '--config.train.checkpoint_every=40',
      '--config.train.log_every=1000',  # metrics are written only at the saves
      '--config.train.sample_every=100000',
    ]
    proc = launch(args)
    _wait_for(workdir / 'checkpoints' / '40' / 'commit_success.txt', proc)
    # Metrics lines stay far below either limit; every checkpoint needs more.
    if fault == 'full_disk':
      _fill(disk, leave=64 << 10)
      cause = 'No space left on device'
    else:
      resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (16_384, 16_384))
      cause = 'File too large'
    try:
      out, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
      proc.kill()
      pytest.fail(f'the trainer hung after a failed save:\n{proc.communicate()[0][-3000:]}')
    assert proc.returncode == 1, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith('error: ')]
    assert len(lines) == 1, out[-3000:]
    (line,) = lines
    assert line.startswith('error: saving checkpoint step ') and cause in line, line
    assert f'in {workdir / "checkpoints"} failed' in line and 'checkpoints kept: 40' in line, line
    # The earlier checkpoint is intact and restores; the failed one is no step.
    assert _committed(workdir) == [40]
    config = smoke_config()
    state = _restore(workdir, config)
    assert int(state.step) == 40
    chex.assert_tree_all_finite(state.g.params)


_SAVE_INTO_A_LOST_DIRECTORY = """
import os, shutil, sys
import jax.numpy as jnp
from jaxgan import checkpoint
from jaxgan.errors import CheckpointError
workdir = sys.argv[1]
ckpt = checkpoint.Checkpointer(workdir)
ckpt.save(1, {'w': jnp.ones(3)}, {'k': 1})
ckpt.wait()
os.rename(ckpt.directory, ckpt.directory + '.moved')  # e.g. an unmounted or replaced disk
open(ckpt.directory, 'w').close()
try:
  ckpt.save(2, {'w': jnp.ones(3)}, {'k': 1})
  ckpt.close()
except CheckpointError as e:
  print('error:', e)
"""


def test_a_save_whose_directory_cannot_be_made_fails_and_the_process_exits(tmp_path):
  """The checkpoints folder replaced by a file after a save: the next save cannot make its
  step directory. Made by Orbax's background threads, that failure left the threads waiting
  20 minutes for the directory and the process hung at exit after reporting the error."""
  proc = subprocess.run(
    [sys.executable, '-c', _SAVE_INTO_A_LOST_DIRECTORY, str(tmp_path / 'w')],
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS='cpu'),
    capture_output=True,
    text=True,
    timeout=60,  # about 3 s; a hang raises TimeoutExpired
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'error: saving checkpoint step 2' in proc.stdout and 'Not a directory' in proc.stdout


def _smoke(num_steps):
  config = smoke_config()
  config.train.num_steps = num_steps
  return config


def _restore(workdir, config):
  ckpt = checkpoint.Checkpointer(str(workdir), create=False)
  state = ckpt.restore(gan.GAME.create_state(config))
  ckpt.close()
  return state


def test_unreadable_checkpoints_are_set_aside_and_resume_falls_back(tmp_path, caplog):
  caplog.set_level('INFO', logger='absl')
  config = _smoke(6)
  train.train_and_evaluate(config, str(tmp_path / 'w'))  # checkpoints 3 and 6
  ckpts = tmp_path / 'w' / 'checkpoints'
  (ckpts / '6' / 'config' / 'metadata').write_text('{"seed": 0, "trunc')  # a torn write
  os.makedirs(ckpts / '9.orbax-checkpoint-tmp-1234')  # a save killed mid-way: never a step
  state = train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert 'Checkpoint step 6' in caplog.text and 'unreadable' in caplog.text
  assert 'Resumed from' in caplog.text and 'at step 3.' in caplog.text
  assert int(state.step) == 6 and sorted(os.listdir(ckpts)) == ['3', '6']
  assert os.listdir(tmp_path / 'w' / 'checkpoints_unreadable') == ['6']  # kept, not deleted
  # Resuming from 3 redid steps 4-6 exactly: equal to an uninterrupted run.
  train.train_and_evaluate(config, str(tmp_path / 'straight'))
  leaves = lambda name: jax.tree.leaves(_restore(tmp_path / name, config))
  chex.assert_trees_all_equal(leaves('w'), leaves('straight'))

  # State files truncated (a disk that lost data) count as unreadable too; none left: one line.
  for step in ('3', '6'):
    for root, _, files in os.walk(ckpts / step / 'state'):
      for f in files:
        if len(f) == 32:  # the ocdbt data files
          with open(os.path.join(root, f), 'r+b') as handle:
            handle.truncate(7)
  with pytest.raises(CheckpointError, match='no readable checkpoint in .*steps 6, 3 moved to'):
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert sorted(os.listdir(tmp_path / 'w' / 'checkpoints_unreadable')) == ['3', '6', '6.1']


# --- every bad value refused up front -------------------------------------------------------

_FUZZED = (
  'experiments/dcgan/digits.py',
  'experiments/toy2d/grid.py',
  'experiments/cyclegan/digits.py',
  'experiments/pix2pix/digits.py',
)
_INTS = st.sampled_from([0, -1, 1, 2, 3, 7, 10**6, 2**40])
_FLOATS = st.sampled_from([0.0, -1.0, 0.5, 1.0, 1.5, 1e30, float('nan'), float('inf')])
_WRONG = st.sampled_from(['x', None, (1, 2), True])


def _numeric_keys(config):
  flat = schema.flatten(config.to_dict())
  return sorted(
    k for k, v in flat.items() if isinstance(v, int | float) and not isinstance(v, bool)
  )


def _set(config, key, value):
  *path, name = key.split('.')
  node = config
  for part in path:
    node = node[part]
  node[name] = value  # ml_collections refuses some wrong types and unknown keys, as the CLI does


def _cli_error(path, key, value) -> str:
  """What the CLI's flag parser (`cli.parse_flags`) exits with on `--config.KEY=VALUE`.

  Run in this process on flags of its own (the experiments' `--config` and `--workdir`):
  the parser loads the config file and applies the override as on the command line.
  """
  argv = [
    'dcgan',
    f'--config={os.path.join(ROOT, path)}:smoke',
    '--workdir=w',
    f'--config.{key}={value}',
  ]
  values = flags.FlagValues()  # config_flags finds the overrides in `sys_argv`
  config_flags.DEFINE_config_file('config', None, '', values, lock_config=True, sys_argv=argv)
  flags.DEFINE_string('workdir', None, '', flag_values=values)
  with mock.patch.object(flags, 'FLAGS', values), pytest.raises(SystemExit) as exit_:
    cli.parse_flags(argv)
  return exit_.value.code


@st.composite
def _overrides(draw):
  path = draw(st.sampled_from(_FUZZED))
  keys = _numeric_keys(load_config(path, 'smoke'))
  chosen = draw(st.lists(st.sampled_from([*keys, 'model.no_such_key']), min_size=1, max_size=3))
  values = [draw(st.one_of(_INTS, _FLOATS, _WRONG)) for _ in chosen]
  return path, list(zip(chosen, values, strict=True))


# ml_collections loads the config file with importlib's deprecated load_module.
@pytest.mark.filterwarnings('ignore:the load_module:DeprecationWarning')
def test_any_override_set_starts_cleanly_or_fails_in_one_line():
  """Zeros, negatives, huge values, NaN, wrong types, unknown keys: a clean start or one line.

  An override ml_collections refuses (a string, a tuple or a float for an int, an
  unknown key) is the CLI's flag parser's to refuse, in one line, before any config
  is validated; the others (None and True pass ml_collections) reach the start-up
  checks. A clean start here is what a run does before its first step, abstractly:
  the start-up checks, the data source opened and read, the state's and the step's
  shapes traced by `jax.eval_shape` (nothing compiled or allocated).
  """
  seen = collections.Counter()

  @hypothesis.settings(
    max_examples=40,
    deadline=60_000,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
  )
  @hypothesis.seed(0)  # the same draws every run (derandomize would reseed on each edit)
  @hypothesis.given(_overrides())
  def check(drawn):
    path, overrides = drawn
    config = load_config(path, 'smoke')
    for key, value in overrides:
      try:
        _set(config, key, value)
      except (AttributeError, KeyError, TypeError, ValueError):
        # The command line stops at this flag: one line, exit status 1.
        message = _cli_error(path, key, value)
        assert isinstance(message, str) and message.startswith('error: '), (key, value, message)
        assert f'--config.{key}' in message and '\n' not in message, (key, value, message)
        seen['refused by the flag parser'] += 1
        return
    seen['validated'] += 1
    started = time.perf_counter()
    try:
      game, dp = train.start_checks(config)
      batches = game.create_batches(config)
      batches.batch(0)
      state = jax.eval_shape(lambda: game.create_state(config, axis_name=dp.axis_name))
      batch = {k: jax.ShapeDtypeStruct(*v) for k, v in batches.spec().items()}
      jax.eval_shape(game.step_fn(config), state, batch)
      seen['clean start'] += 1
    except JaxganError as e:
      message = str(e)
      assert message and '\n' not in message, (overrides, message)
      seen['refused at start-up'] += 1
    assert time.perf_counter() - started < 30, overrides

  check()
  # Each route, many times (measured with this seed: of 40 draws, 14 refused by the flag
  # parser, 26 validated: 24 refused at start-up, 2 clean starts).
  assert seen['refused by the flag parser'] >= 8, seen
  assert seen['validated'] >= 15 and seen['refused at start-up'] >= 10, seen
  assert seen['clean start'] >= 1, seen


@pytest.mark.parametrize(
  'override,message',
  [
    ('--config.model.latent_dim=0', 'config.model.latent_dim must be >= 1; got 0'),
    ('--config.optimizer.g.learning_rate=-1', 'learning_rate must be > 0'),
  ],
)
def test_the_reported_values_are_one_line_errors_from_the_cli(tmp_path, override, message):
  proc = launch(
    [
      'jaxgan.experiments.dcgan',
      '--config=experiments/dcgan/digits.py:smoke',
      f'--workdir={tmp_path}',
      override,
    ]
  )
  out, _ = proc.communicate(timeout=120)
  assert proc.returncode == 1 and out.strip().splitlines()[-1].startswith('error: '), out[-2000:]
  assert message in out.strip().splitlines()[-1]
  assert not (tmp_path / 'checkpoints').exists() or not os.listdir(tmp_path / 'checkpoints')


def _last_logged_step(workdir):
  path = workdir / 'metrics.jsonl'
  if not path.exists():
    return 0
  lines = [line for line in path.read_text().splitlines() if line.strip()]
  return json.loads(lines[-1])['step'] if lines else 0


def _committed(workdir):
  """The checkpoint steps whose save finished (Orbax renames a save's temporary directory)."""
  folder = workdir / 'checkpoints'
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if folder.exists() else []


def test_kill_9_repeatedly_then_finish_equals_an_uninterrupted_run(tmp_path):
  """SIGKILL three times (the first while a save is being written, confirmed by the save's
  temporary directory left behind; retried if the save finished first), each after a
  checkpoint exists: each restart resumes from the newest finished save. That save is at most
  two intervals behind the last logged step: a save flushes the log, then waits for the save
  before it (at step 160 the save of 120 may still be writing and 80 be the newest). And
  the finished run is bit-identical to one never interrupted."""
  every, num_steps = 40, 400
  overrides = [
    '--config=experiments/dcgan/digits.py:smoke',
    '--config.num_devices=1',
    f'--config.train.num_steps={num_steps}',
    f'--config.train.checkpoint_every={every}',
    '--config.train.log_every=5',
    '--config.train.sample_every=100000',
  ]
  workdir = tmp_path / 'killed'
  rng, last, expected = np.random.default_rng(0), 0, None
  mid_save = []  # per kill: whether it landed while a save was being written
  # Three kills; the first ones aim at a save until one lands in it (at most five kills).
  while len(mid_save) < 3 or (not any(mid_save) and len(mid_save) < 5):
    proc = launch(['jaxgan.experiments.dcgan', *overrides, f'--workdir={workdir}'])
    if expected is not None:  # this launch resumes the run killed before it
      out = _wait_for_line(proc, 'Resumed from')
      last = int(re.search(r'at step (\d+)', out).group(1))
      assert last == expected[1] and last >= (expected[0] // every - 2) * every, (expected, last)
    deadline = time.time() + 120
    while not _committed(workdir) or _committed(workdir)[-1] <= last:  # a new finished save
      assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
      time.sleep(0.01)
    if not any(mid_save):  # during a save: as soon as Orbax's temporary directory appears
      while proc.poll() is None and time.time() < deadline and not _saving(workdir):
        time.sleep(0.001)
    else:
      time.sleep(rng.uniform(0.0, 1.0))
    if proc.poll() is not None:
      break  # finished before the kill: nothing left to interrupt
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # A save cut short leaves its temporary directory: only a finished save renames it.
    mid_save.append(_saving(workdir))
    expected = (_last_logged_step(workdir), _committed(workdir)[-1])  # (seen, newest finished)
  assert len(mid_save) >= 3 and any(mid_save), mid_save
  finish = launch(['jaxgan.experiments.dcgan', *overrides, f'--workdir={workdir}'])
  out, _ = finish.communicate(timeout=300)
  assert finish.returncode == 0 and f'at step {expected[1]}.' in out, out[-3000:]
  config = smoke_config()
  config.num_devices = 1
  config.train.num_steps, config.train.checkpoint_every = num_steps, every
  config.train.log_every, config.train.sample_every = 5, 100000
  train.train_and_evaluate(config, str(tmp_path / 'straight'))
  leaves = lambda name: jax.tree.leaves(_restore(tmp_path / name, config))
  chex.assert_trees_all_equal(leaves('killed'), leaves('straight'))


def _saving(workdir):
  """Whether a save is being written (or was, when its writer died): Orbax's temporary
  directory, which a finished save renames to its step, and a start clears."""
  return any('orbax-checkpoint-tmp' in n for n in os.listdir(workdir / 'checkpoints'))


def _wait_for_line(proc, text, timeout=120):
  """Reads `proc`'s output until a line holds `text`; returns what was read."""
  out, deadline = '', time.time() + timeout
  while time.time() < deadline:
    line = proc.stdout.readline()
    if not line:
      break
    out += line
    if text in line:
      return out
  proc.kill()
  pytest.fail(f'no line with {text!r}:\n{out[:3000]}')


def test_the_soak_tool_samples_a_real_run(tmp_path, capsys):
  from jaxgan import soak

  argv = ['--config=experiments/dcgan/digits.py:smoke', '--steps=6', '--every=3', '--interval=0.05']
  assert soak.main([*argv, f'--workdir={tmp_path}', f'--json={tmp_path / "soak.json"}']) == 0
  out = capsys.readouterr().out
  assert '6 steps in' in out and 'RSS (MiB)' in out
  samples = json.loads((tmp_path / 'soak.json').read_text())['samples']
  assert samples and all(s['fds'] >= 3 and s['threads'] >= 1 for s in samples)
  assert max(s['rss_mib'] for s in samples) > 50  # the trainer, once JAX is loaded


def _poison(monkeypatch, times):
  """Batches from index 4 on are NaN for the first `times` calls of `iterate` (then clean)."""
  good_iterate, calls = pipeline.BatchSource.iterate, []

  def poisoned(self, start_step=0):
    calls.append(start_step)
    bad = len(calls) <= times
    for step, batch in enumerate(good_iterate(self, start_step), start_step):
      yield {**batch, 'image': batch['image'] * np.nan} if bad and step >= 4 else batch

  monkeypatch.setattr(pipeline.BatchSource, 'iterate', poisoned)
  return calls


def test_on_nan_rollback_restores_lowers_the_rates_and_goes_on(tmp_path, monkeypatch, caplog):
  caplog.set_level('INFO', logger='absl')
  calls = _poison(monkeypatch, times=1)  # a transient blow-up
  config = smoke_config()
  config.train.on_nan = 'rollback'
  lr = config.optimizer.g.learning_rate
  state = train.train_and_evaluate(config, str(tmp_path))
  assert calls == [0, 3]  # restarted from the checkpoint at step 3
  assert int(state.step) == 6 and 'Rollback 1 of 3' in caplog.text
  chex.assert_tree_all_finite(state.g.params)
  stored = checkpoint.Checkpointer(str(tmp_path), create=False).stored_config(6)
  assert stored['train']['rollbacks'] == 1
  assert stored['optimizer']['g']['learning_rate'] == stored['optimizer']['d']['learning_rate']
  assert stored['optimizer']['g']['learning_rate'] == pytest.approx(lr * 0.5)
  # The same command, longer: resumes with the lowered rates, not "a different experiment".
  config.train.num_steps = 8
  assert int(train.train_and_evaluate(config, str(tmp_path)).step) == 8
  assert 'rolled back 1 time(s)' in caplog.text


def test_on_nan_rollback_is_bounded(tmp_path, monkeypatch):
  _poison(monkeypatch, times=100)  # diverges every time
  config = smoke_config()
  config.train.on_nan, config.train.max_rollbacks = 'rollback', 2
  with pytest.raises(NonFiniteError, match=r'non-finite .* \(after 2 rollback\(s\)\)'):
    train.train_and_evaluate(config, str(tmp_path))


def test_every_stored_config_unreadable_is_an_error_not_a_fresh_start(tmp_path):
  config = _smoke(3)
  train.train_and_evaluate(config, str(tmp_path))  # one checkpoint: step 3
  (tmp_path / 'checkpoints' / '3' / 'config' / 'metadata').write_text('{"torn')
  with pytest.raises(CheckpointError, match='no readable checkpoint in .*steps 3 moved to'):
    train.train_and_evaluate(config, str(tmp_path))
