"""Metric writers and output files: strict JSON (no NaN / Infinity), one-line write errors."""

import doctest
import json
import math

import numpy as np
import pytest

from jaxgan import writers
from jaxgan.errors import OutputError
from tests.helpers import launch


def _strict(constant: str):
  raise ValueError(f'{constant} is not JSON: strict readers (jq, browsers) reject it')


def test_doctests():
  result = doctest.testmod(writers)
  assert result.attempted >= 1 and result.failed == 0


def test_undefined_values_are_null_with_the_reason_beside_them():
  values = {'modes': 3.0, 'reverse_kl': math.inf, 'fid': math.nan, 'nested': {'x': -math.inf}}
  text = json.dumps(writers.json_safe(values))
  out = json.loads(text, parse_constant=_strict)
  assert out['modes'] == 3.0 and out['reverse_kl'] is None and out['reverse_kl_undefined'] == 'inf'
  assert out['fid'] is None and out['fid_undefined'] == 'nan'
  assert out['nested'] == {'x': None, 'x_undefined': '-inf'}


def test_metrics_lines_are_strict_json_and_files_open_at_the_first_write(tmp_path):
  writer = writers.MetricWriter(str(tmp_path / 'w'))
  assert not (tmp_path / 'w').exists()  # a run refused before its first write leaves nothing
  writer.scalars(1, {'d_loss': np.float32(0.5), 'kl': float('inf')})
  writer.close()
  (line,) = (tmp_path / 'w' / 'metrics.jsonl').read_text().splitlines()
  assert json.loads(line, parse_constant=_strict) == {
    'step': 1,
    'd_loss': 0.5,
    'kl': None,
    'kl_undefined': 'inf',
  }


def test_a_failed_write_is_one_line_naming_the_file(tmp_path):
  (tmp_path / 'w').write_text('a file where the workdir should be')
  writer = writers.MetricWriter(str(tmp_path / 'w'))
  with pytest.raises(OutputError, match=r'^cannot write .*w/tb: .*\(free disk space'):
    writer.scalars(1, {'x': 1.0})


def test_a_run_whose_samples_cannot_be_written_stops_in_one_line(tmp_path):
  """End to end: the smoke run's first sample grid (step 3) has nowhere to go."""
  workdir = tmp_path / 'w'
  workdir.mkdir()
  (workdir / 'samples').write_text('a file where the samples folder should be')
  proc = launch(
    [
      'jaxgan.experiments.dcgan',
      '--config=experiments/dcgan/digits.py:smoke',
      f'--workdir={workdir}',
      '--config.num_devices=1',
    ]
  )
  out, _ = proc.communicate(timeout=180)
  assert proc.returncode == 1, out[-3000:]
  errors = [line for line in out.splitlines() if line.startswith('error: ')]
  assert errors == [out.strip().splitlines()[-1]], out[-3000:]
  assert errors[0].startswith(f'error: cannot write {workdir / "samples" / "step_0000003.png"}: ')
  assert errors[0].endswith(
    '(free disk space or fix the permissions, then run the same command to resume)'
  )
