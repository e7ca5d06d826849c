"""jaxgan.runtime: importing jaxgan changes nothing global; `configure()` adds the measured
XLA:CPU flags (once, the user's value wins) and turns on the shared compilation cache."""

import importlib.metadata
import json
import os
import subprocess
import sys

import pytest

from jaxgan import compile_cache, xla_cpu

FLAG = xla_cpu.FLAGS[0]


@pytest.fixture
def jaxlib_version(monkeypatch):
  def use(version):
    monkeypatch.setattr(importlib.metadata, 'version', lambda name: version)

  return use


def test_flags_are_added_once_and_the_users_value_wins(jaxlib_version):
  jaxlib_version('0.10.2')
  env = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert xla_cpu.add_default_flags(env) == [FLAG]
  assert env['XLA_FLAGS'] == f'--xla_force_host_platform_device_count=8 {FLAG}'
  assert xla_cpu.add_default_flags(env) == []  # not twice
  mine = {'XLA_FLAGS': '--xla_cpu_experimental_ynn_fusion_type=+individual_dot'}
  assert xla_cpu.add_default_flags(mine) == [] and 'individual_dot' in mine['XLA_FLAGS']
  off = {xla_cpu.OPT_OUT: '0'}
  assert xla_cpu.add_default_flags(off) == [] and 'XLA_FLAGS' not in off


def test_no_flags_on_a_jaxlib_they_were_not_measured_on(jaxlib_version):
  jaxlib_version('0.11.2')  # an unknown flag would abort the process there
  env = {}
  assert xla_cpu.add_default_flags(env) == [] and env == {}


@pytest.mark.skipif(
  not importlib.metadata.version('jaxlib').startswith(xla_cpu.MEASURED_JAXLIB),
  reason='the flags are only added on the measured jaxlib',
)
@pytest.mark.parametrize('opt_out,ynn', [('1', False), ('0', True)])
def test_configure_moves_convolutions_off_ynnpack(opt_out, ynn):
  # A fresh process, as a user's: the suite itself runs with the flags off (conftest).
  code = (
    'import jaxgan.runtime, jax, jax.numpy as jnp\n'
    'jaxgan.runtime.configure()\n'
    'x, k = jnp.ones((8, 16, 16, 32)), jnp.ones((3, 3, 32, 32))  # big enough for YNNPACK\n'
    "f = jax.jit(lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), 'SAME',\n"
    "    dimension_numbers=('NHWC', 'HWIO', 'NHWC')))\n"
    'hlo = f.lower(x, k).compile().as_text()\n'
    "print('convolution' in hlo, 'ynn_fusion' in hlo)\n"
  )
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env[xla_cpu.OPT_OUT] = opt_out
  out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
  assert out.returncode == 0, out.stderr[-500:]
  assert out.stdout.split() == ['True', str(ynn)]


@pytest.mark.parametrize(
  'env,expected',
  [
    ({}, '{home}/.cache/jaxgan/xla'),
    ({'XDG_CACHE_HOME': '{home}/xdg'}, '{home}/xdg/jaxgan/xla'),
    ({'JAXGAN_COMPILATION_CACHE': '{home}/mine'}, '{home}/mine'),
    ({'JAXGAN_COMPILATION_CACHE': '0'}, 'None'),
    ({'JAX_COMPILATION_CACHE_DIR': '{home}/jax'}, '{home}/jax'),
  ],
)
def test_compilation_cache_is_on_by_default_and_can_be_moved_or_turned_off(tmp_path, env, expected):
  home = str(tmp_path)
  # None of the caller's cache settings: they would move the directory this test looks for.
  environ = {k: v for k, v in os.environ.items() if 'CACHE' not in k}
  environ.update({k: v.format(home=home) for k, v in env.items()}, HOME=home)
  code = 'import jaxgan.runtime, jax; jaxgan.runtime.configure(); c = jax.config\n'
  code += 'print(c.jax_compilation_cache_dir, c.jax_compilation_cache_max_size)'
  out = subprocess.run(
    [sys.executable, '-c', code], env=environ, capture_output=True, text=True, check=True
  ).stdout.split()
  assert out[0] == expected.format(home=home)
  if out[0] != 'None':  # capped (4 GiB), which also makes JAX lock the directory
    assert int(out[1]) == 4 * 2**30


_COMPILE = """
import jaxgan.runtime, jax, jax.numpy as jnp
jaxgan.runtime.configure()
hits = []
jax.monitoring.register_event_listener(
  lambda event, **kw: hits.append(1) if event == '/jax/compilation_cache/cache_hits' else None
)
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum(axis=0))
f(jnp.ones((64, 64))).block_until_ready()
print('hits', len(hits))
"""


def test_processes_share_the_compilation_cache(tmp_path):
  env = {k: v for k, v in os.environ.items() if 'COMPILATION_CACHE' not in k}
  env['JAXGAN_COMPILATION_CACHE'] = str(tmp_path / 'xla')
  with pytest.raises(ValueError, match='JAXGAN_COMPILATION_CACHE_MAX_GB=.*positive number'):
    compile_cache.max_bytes({'JAXGAN_COMPILATION_CACHE_MAX_GB': '-1'})
  run = lambda: subprocess.Popen(
    [sys.executable, '-c', _COMPILE],
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  os.makedirs(tmp_path / 'xla')
  (tmp_path / 'xla' / 'jit_old-0123-cache').write_bytes(b'x')  # from an uncapped cache: no atime
  cold = [run(), run()]  # two processes writing the same entry at once
  for p in cold:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-500:]
    assert 'persistent compilation cache' not in err, err[-500:]  # no read/write error
  entries = [f for f in os.listdir(tmp_path / 'xla') if f.endswith('-cache')]
  assert len(entries) > 1 and os.path.exists(tmp_path / 'xla' / '.lockfile')
  assert os.path.exists(tmp_path / 'xla' / 'jit_old-0123-atime')
  warm = run()
  out, err = warm.communicate(timeout=120)
  assert out.split()[-1] != '0', err[-500:]  # the warm process loaded it


_IMPORT_ALL = """
import importlib, json, os, pkgutil, sys
before = os.environ.get('XLA_FLAGS')
import jax
import jaxgan
names = [m.name for m in pkgutil.walk_packages(jaxgan.__path__, 'jaxgan.')]
# An entry point defines its absl flags when imported: one of them a process.
entry = lambda n: n.startswith('jaxgan.experiments.') and n != 'jaxgan.experiments.cli'
names = [n for n in names if not (n.endswith('__main__') or entry(n))]
for name in names:
  importlib.import_module(name)
c = jax.config
print(json.dumps({'flags_unchanged': os.environ.get('XLA_FLAGS') == before, 'modules': len(names),
  'cache_dir': c.jax_compilation_cache_dir, 'cache_max': c.jax_compilation_cache_max_size}))
"""


def test_importing_jaxgan_changes_nothing_global():
  env = {k: v for k, v in os.environ.items() if 'CACHE' not in k}
  env['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'
  env.pop(xla_cpu.OPT_OUT, None)  # the flags would be added if anything called configure
  out = subprocess.run(
    [sys.executable, '-c', _IMPORT_ALL], env=env, capture_output=True, text=True, check=True
  )
  found = json.loads(out.stdout.splitlines()[-1])
  assert found['modules'] > 40  # every library module of the package
  assert found['flags_unchanged'] and found['cache_dir'] is None and found['cache_max'] == -1


def test_cond_selects_both_branches_on_the_cpu_and_equals_lax_cond():
  """XLA:CPU runs a conditional branch's convolutions 40-80x slower, so on the CPU `xla_cpu.cond`
  lowers to no conditional at all; its values are lax.cond's, for either predicate."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  kernel = jnp.ones((3, 3, 2, 2)) / 9.0

  def heavy(state):
    x, key, n = state
    y = jax.lax.conv_general_dilated(
      x, kernel, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )
    return (y, jax.random.fold_in(key, 1), n + 1), jnp.sum(y)

  light = lambda state: (state, jnp.zeros(()))
  state = (jnp.arange(32.0).reshape(1, 4, 4, 2), jax.random.key(0), jnp.int32(3))
  ours = jax.jit(lambda p, s: xla_cpu.cond(p, heavy, light, s))
  theirs = jax.jit(lambda p, s: jax.lax.cond(p, heavy, light, s))
  for pred in (True, False):
    got, want = ours(pred, state), theirs(pred, state)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
      if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        a, b = jax.random.key_data(a), jax.random.key_data(b)
      np.testing.assert_array_equal(a, b)
  compiled = lambda f: f.lower(True, state).compile().as_text()
  assert 'conditional(' not in compiled(ours)  # no conditional left on the CPU
  assert 'conditional(' in compiled(theirs)
