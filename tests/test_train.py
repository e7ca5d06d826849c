"""End to end: the trainer, exact resume, the memory checks, NaN stop, SIGTERM, the smoke configs.

The workdir guard (a different experiment refused) is in tests/test_checkpoint.py; sampling a
workdir in tests/test_sample.py.
"""

import json
import os
import signal
import time

import chex
import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxgan import checkpoint, sample, train
from jaxgan.data import pipeline
from jaxgan.errors import ConfigError, NonFiniteError
from jaxgan.games import gan
from tests.helpers import launch, smoke_config


def _restore(workdir, config, step=None):
  ckpt = checkpoint.Checkpointer(str(workdir), create=False)
  state = ckpt.restore(gan.GAME.create_state(config), step)
  ckpt.close()
  return state


def test_smoke_run_writes_everything(tmp_path):
  config = smoke_config(keep_evals=True)
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 6
  for name in (
    'config.json',
    'metrics.jsonl',
    'samples/final.png',
    'samples/interpolation.png',
    'samples/step_0000003.png',
  ):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['3', '6']
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(tmp_path / 'tb'))
  lines = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  # log_every=2, and a flush before each checkpoint (step 3) checks its losses are finite.
  assert [r['step'] for r in lines if 'd_loss' in r] == [2, 3, 4, 6]
  # The demo's classifier quality: the smoke config evaluates it once, at the end.
  assert [r['step'] for r in lines if 'eval/classifier_fid' in r] == [6]
  assert {'d_loss', 'g_loss', 'img_per_s', 'input_wait_fraction'} <= set(lines[0])
  chex.assert_trees_all_equal(_restore(tmp_path, config).g.params, state.g.params)


def test_resume_is_exact(tmp_path, caplog):
  caplog.set_level('INFO', logger='absl')
  config = smoke_config()
  config.train.num_steps = 6
  train.train_and_evaluate(config, str(tmp_path / 'one'))
  first = smoke_config()
  first.train.num_steps = 3
  train.train_and_evaluate(first, str(tmp_path / 'two'))
  assert 'Resumed from' not in caplog.text
  train.train_and_evaluate(config, str(tmp_path / 'two'))  # raising num_steps resumes
  # From its step-3 checkpoint: a run that retrained from step 0 would end in the same state
  # (training is deterministic, and a save skips a step already on disk).
  assert f'Resumed from {tmp_path / "two" / "checkpoints"} at step 3.' in caplog.text
  one, two = _restore(tmp_path / 'one', config), _restore(tmp_path / 'two', config)
  assert int(one.step) == int(two.step) == 6
  # Bit-identical arrays (the static optimizer closures differ between create_state calls).
  chex.assert_trees_all_equal(jax.tree.leaves(one), jax.tree.leaves(two))


def test_a_state_or_step_larger_than_a_device_is_refused_before_any_work(tmp_path, monkeypatch):
  config = smoke_config()
  workdir = tmp_path / 'w'
  monkeypatch.setattr(train, 'device_memory', lambda: 1000)  # bytes
  with pytest.raises(
    ConfigError,
    match=r'^the game state of this config takes 0\.0 GiB \(parameters, optimizer states, EMA\); '
    r'a device here has 0\.0 GiB: lower config\.model sizes$',
  ):
    train.train_and_evaluate(config, str(workdir))
  assert not workdir.exists()
  # The state fits; the compiled step (state, batch, activations: XLA's figure) does not.
  shapes = jax.eval_shape(lambda: gan.GAME.create_state(config))
  state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
  monkeypatch.setattr(train, 'device_memory', lambda: state_bytes)
  with pytest.raises(
    ConfigError,
    match=r'^the compiled train step needs [0-9.]+ GiB \(XLA memory analysis: batch, state, '
    r'activations\); a device here has 0\.0 GiB: lower config\.train\.batch_size or ',
  ):
    train.train_and_evaluate(config, str(workdir))
  # Refused before its first step: no metrics, samples or checkpoints.
  assert not {'metrics.jsonl', 'samples', 'tb'} & set(os.listdir(workdir))
  assert _steps_saved(workdir) == []


def _steps_saved(workdir):
  folder = workdir / 'checkpoints'
  return sorted(n for n in os.listdir(folder) if n.isdigit()) if folder.exists() else []


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  good_iterate = pipeline.BatchSource.iterate

  def poisoned(self, start_step=0):  # batch `step` feeds train step `step + 1`
    for step, batch in enumerate(good_iterate(self, start_step), start_step):
      yield {**batch, 'image': batch['image'] * np.nan} if step >= 4 else batch

  monkeypatch.setattr(pipeline.BatchSource, 'iterate', poisoned)
  config = smoke_config()
  with pytest.raises(
    NonFiniteError, match='non-finite loss at step 5.*Last good checkpoint: step 3'
  ):
    train.train_and_evaluate(config, str(tmp_path))
  assert os.listdir(tmp_path / 'checkpoints') == ['3']
  chex.assert_tree_all_finite(_restore(tmp_path, config).g.params)


def test_sigterm_saves_and_exits_cleanly(tmp_path):
  workdir = tmp_path / 'w'
  proc = launch(
    [
      'jaxgan.experiments.dcgan',
      '--config=experiments/dcgan/digits.py:smoke',
      f'--workdir={workdir}',
      '--config.train.num_steps=100000',
      '--config.train.checkpoint_every=100000',
      '--config.num_devices=1',
    ]
  )
  try:
    deadline = time.time() + 90
    while (
      not (workdir / 'metrics.jsonl').exists() or not (workdir / 'metrics.jsonl').stat().st_size
    ):
      assert time.time() < deadline and proc.poll() is None, proc.stdout.read()
      time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
  finally:
    proc.kill()
  assert proc.returncode == 0, output
  assert 'SIGTERM received: saved a checkpoint at step' in output
  steps = [int(s) for s in os.listdir(workdir / 'checkpoints')]
  assert len(steps) == 1 and 0 < steps[0] < 100000


def _strict(constant: str):
  raise ValueError(f'{constant} is not JSON: strict readers (jq, browsers) reject it')


def test_toy2d_grid_trains_and_samples_points(tmp_path):
  config = smoke_config('experiments/toy2d/grid.py')
  train.train_and_evaluate(config, str(tmp_path))
  results = json.loads((tmp_path / 'results.json').read_text(), parse_constant=_strict)
  assert {'modes_captured', 'high_quality', 'reverse_kl'} <= set(results)
  x = np.load(sample.sample_from_workdir(str(tmp_path), n=50, fmt='npy'))
  assert x.shape == (50, 2)


def test_mnist_config_trains_on_mock_tfds(tmp_path):
  config = smoke_config('experiments/dcgan/mnist.py')
  with tfds.testing.mock_data(num_examples=32):
    state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 6


def test_eight_devices_train_the_smoke_config(tmp_path):
  assert jax.device_count() == 8
  config = smoke_config()
  config.num_devices = 0
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 6
  assert len(state.g.step.sharding.device_set) == 8


def test_steps_in_flight_fill_two_seconds_at_most():
  """Slow steps are waited for one by one (a SIGTERM is then handled within a step), fast
  ones up to the limit; re-estimated at every wait."""
  now = [0.0]
  in_flight = train._InFlight(limit=20, clock=lambda: now[0])
  waits = []

  def run(step_s, steps):
    for _ in range(steps):
      now[0] += step_s
      in_flight.after_step(None)
      waits.append(in_flight.since == 0)  # it waited after this step

  run(4.0, 3)  # a StyleGAN2 step on a CPU: wait after every step
  assert in_flight.every == 1 and all(waits)
  run(0.01, 2)  # 10 ms steps: 20 (the limit) fill 0.2 s
  assert in_flight.every == 20
  waits.clear()
  run(0.01, 40)
  assert sum(waits) == 2  # one wait per 20 steps
  run(0.25, 20)  # slower again: 8 steps fill two seconds
  assert in_flight.every == 8
