"""The benchmark command runs the real step and prints its JSON summary; bf16 trains."""

import json
import math

import chex
import jax
import jax.numpy as jnp

from jaxgan import bench, train
from tests.helpers import smoke_config


def test_bench_prints_a_json_summary(capsys):
  summary = bench.main(
    ['--size=16', '--channels=1', '--width=4', '--latent=8', '--batch=4', '--steps=2', '--warmup=1']
  )
  last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert last == summary
  assert {'model', 'size', 'batch', 'jaxgan_img_per_s', 'first_step_s'} <= set(last)
  assert last['jaxgan_img_per_s'] > 0 and last['first_step_s'] > 0


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
  assert lines and all(math.isfinite(json.loads(line)['d_loss']) for line in lines)


def test_slow_steps_keep_their_digits():
  assert bench.img_per_s(1, 3.0431) == 0.3286  # a 2-decimal round gave 0.3: a wrong ratio
  assert bench.img_per_s(64, 0.18538) == 345.2
