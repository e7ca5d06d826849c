"""StyleGAN2 networks: FIR resampling, equalised learning rate, modulated conv, G and D."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.signal
import torch
from jax import lax

from jaxgan import resample
from jaxgan.models import stylegan2 as sg
from jaxgan.state import count_params, init_variables

_DIMS = ('NHWC', 'HWIO', 'NHWC')
TAPS = (1, 3, 3, 1)


def _conv(x, kernel, padding=0, groups=1):
  return lax.conv_general_dilated(
    x, kernel, (1, 1), [(padding, padding)] * 2, dimension_numbers=_DIMS,
    feature_group_count=groups, precision=lax.Precision.HIGHEST,
  )  # fmt: skip


# ---------------------------------------------------------------------------
# upfirdn2d
# ---------------------------------------------------------------------------


def _scipy_axis(x, f, up, down, before, after, axis):
  """`scipy.signal.upfirdn(f, ., up)` along `axis`, cropped to upfirdn2d's window, strided."""
  full = np.moveaxis(
    np.apply_along_axis(lambda v: scipy.signal.upfirdn(f, v, up=up), axis, x), axis, 0
  )
  n_out = (x.shape[axis] * up + before + after - len(f)) // down + 1
  index = np.arange(n_out) * down + len(f) - 1 - before
  out = np.zeros((n_out, *full.shape[1:]))
  inside = (index >= 0) & (index < full.shape[0])
  out[inside] = full[index[inside]]
  return np.moveaxis(out, 0, axis)


UPFIRDN_CASES = [  # (up, down, (before, after)): StyleGAN2's uses, then cropping and odd factors
  (2, 1, (2, 1)),  # upsample2d
  (1, 2, (1, 1)),  # downsample2d
  (2, 1, (1, 1)),  # after the stride-2 transposed conv
  (1, 2, (2, 2)),  # before the stride-2 conv
  (1, 1, (0, 0)),
  (3, 2, (-1, 3)),  # negative padding crops
]


@pytest.mark.parametrize('up,down,pad', UPFIRDN_CASES)
def test_upfirdn2d_equals_scipy_upfirdn_per_axis(up, down, pad):
  rng = np.random.default_rng(up * 10 + down)
  x = rng.normal(size=(2, 7, 9, 3)).astype(np.float32)
  f = resample.fir_filter(TAPS)
  np.testing.assert_allclose(f, np.array(TAPS) / 8)
  gain = up**2
  g = np.array([1.0, 2.0, 5.0], np.float32)  # asymmetric: checks the flip

  @jax.jit
  def run(x):
    return [
      resample.upfirdn2d(x, f, up=up, down=down, padding=pad, gain=gain),
      resample.upfirdn2d(x, np.outer(f, f), up=up, down=down, padding=pad, gain=gain),  # 2-D form
      resample.upfirdn2d(x, g, up=up, down=down, padding=pad),
    ]

  y, y2, y3 = run(x)
  expected = gain * _scipy_axis(
    _scipy_axis(x, f, up, down, *pad, axis=1), f, up, down, *pad, axis=2
  )
  assert y.shape == expected.shape
  np.testing.assert_allclose(y, expected, atol=1e-5)
  np.testing.assert_allclose(y2, expected, atol=1e-5)
  ref3 = _scipy_axis(_scipy_axis(x, g, up, down, *pad, axis=1), g, up, down, *pad, axis=2)
  np.testing.assert_allclose(y3, ref3, atol=1e-4)


def test_resampling_shapes_gradients_and_bfloat16():
  x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
  chex.assert_shape(resample.upsample2d(x), (2, 16, 16, 3))
  chex.assert_shape(resample.downsample2d(x), (2, 4, 4, 3))
  up = lambda x: resample.upfirdn2d(x, up=2, down=1, padding=(2, 1), gain=4)

  @jax.jit
  def run(x, cotangent):
    y, vjp = jax.vjp(up, x)
    ones = jnp.ones((1, 8, 8, 1))
    ups = resample.upsample2d(ones)
    return y, vjp(cotangent)[0], up(x.astype(jnp.bfloat16)), resample.downsample2d(ones), ups

  cotangent = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype(np.float32)
  y, grad, y16, down_ones, up_ones = run(x, cotangent)
  # A constant image stays constant away from the border (gain 4 on up-sampling).
  np.testing.assert_allclose(up_ones[0, 2:-2, 2:-2], 1.0, rtol=1e-6)
  np.testing.assert_allclose(down_ones[0, 1:-1, 1:-1], 1.0, rtol=1e-6)
  # The gradient is the operator's adjoint: <A x, c> = <x, A^T c>.
  np.testing.assert_allclose(np.sum(y * cotangent), np.sum(x * grad), rtol=1e-4)
  assert np.abs(grad).max() > 0
  assert y16.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(y16, np.float32), y, atol=0.05, rtol=0.02)


@pytest.mark.parametrize('groups,impl', [(1, 'fast'), (3, 'fast'), (3, 'patches'), (3, 'xla')])
def test_conv2d_resample_is_the_filter_and_conv_composition(groups, impl):
  """Each form of the (grouped) convolution, up and down, and their gradients (the batched
  matmuls against XLA's grouped convolution)."""
  rng = np.random.default_rng(groups)
  x = rng.normal(size=(2, 8, 8, 6)).astype(np.float32)
  kernel = rng.normal(size=(3, 3, 6 // groups, 9)).astype(np.float32)

  def both(x, k, impl):
    return [resample.conv2d_resample(x, k, up=2, groups=groups, impl=impl),
            resample.conv2d_resample(x, k, down=2, groups=groups, impl=impl)]  # fmt: skip

  up, down = jax.jit(both, static_argnums=2)(x, kernel, impl)
  up_ref = _conv(resample.upfirdn2d(x, up=2, padding=(3, 2), gain=4), kernel, groups=groups)
  down_ref = resample.upfirdn2d(_conv(x, kernel, padding=2, groups=groups), down=2)
  np.testing.assert_allclose(up, up_ref, atol=1e-4)
  np.testing.assert_allclose(down, down_ref, atol=1e-4)
  # Away from the border: conv(upsample2d(x)) and downsample2d(conv(x)).
  up_same = _conv(resample.upsample2d(x), kernel, padding=1, groups=groups)
  np.testing.assert_allclose(up[:, 1:-1, 1:-1], up_same[:, 1:-1, 1:-1], atol=1e-4)
  if groups > 1 and impl != 'xla':
    loss = lambda x, k, impl: sum(jnp.sum(jnp.sin(y)) for y in both(x, k, impl))
    grads = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)
    for got, want in zip(grads(x, kernel, impl), grads(x, kernel, 'xla'), strict=True):
      np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-4)


# ---------------------------------------------------------------------------
# Modulated convolution
# ---------------------------------------------------------------------------


def _torch_modulated(x, kernel, styles, x_for_conv, padding):
  """Per example: torch conv2d with the modulated, demodulated kernel."""
  out = []
  for b in range(x.shape[0]):
    w = kernel * styles[b][None, None, :, None]  # [k, k, I, O]
    w = w / np.sqrt(np.sum(w**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
    xt = torch.from_numpy(np.array(x_for_conv[b : b + 1], np.float32)).permute(0, 3, 1, 2)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1), np.float32))
    out.append(torch.nn.functional.conv2d(xt, wt, padding=padding).permute(0, 2, 3, 1).numpy())
  return np.concatenate(out)


@pytest.mark.parametrize('up', [1, 2])
def test_modulated_conv_fused_equals_unfused_equals_torch(up):
  rng = np.random.default_rng(up)
  x = rng.normal(size=(3, 6, 6, 4)).astype(np.float32)
  kernel = rng.normal(size=(3, 3, 4, 5)).astype(np.float32)
  styles = rng.normal(size=(3, 4)).astype(np.float32)
  run = jax.jit(
    lambda x, k, s: [sg.modulated_conv(x, k, s, up=up, fused=fused) for fused in (True, False)]
  )
  fused, unfused = run(x, kernel, styles)
  chex.assert_shape(fused, (3, 6 * up, 6 * up, 5))
  np.testing.assert_allclose(fused, unfused, atol=1e-4)
  # up=2: the conv sees the FIR up-sampled input (see resample.conv2d_resample).
  x_for_conv = x if up == 1 else np.asarray(resample.upfirdn2d(x, up=2, padding=(3, 2), gain=4))
  expected = _torch_modulated(x, kernel, styles, x_for_conv, padding=1 if up == 1 else 0)
  np.testing.assert_allclose(fused, expected, atol=1e-4)
  np.testing.assert_allclose(unfused, expected, atol=1e-4)


def test_demodulation_gives_unit_output_variance():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(4, 24, 24, 32)).astype(np.float32)
  kernel = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
  styles = rng.lognormal(size=(4, 32)).astype(np.float32)  # arbitrary positive scales
  run = jax.jit(lambda x, k, s, d: sg.modulated_conv(x, k, s, demodulate=d), static_argnums=3)
  y = np.asarray(run(x, kernel, styles, True))[:, 1:-1, 1:-1]  # no zero padding inside
  # Each output is a unit-norm combination of iid N(0, 1): variance 1. 4 x 22 x 22 x 32
  # samples, correlated across channels: the sample variance is within 0.1 with margin.
  assert abs(y.var() - 1.0) < 0.1, y.var()
  per_channel = y.var(axis=(0, 1, 2))
  assert per_channel.min() > 0.75 and per_channel.max() < 1.25, per_channel
  raw = np.asarray(run(x, kernel, styles, False))[:, 1:-1, 1:-1]
  assert raw.var() > 100  # without demodulation: ~ 9 * 32 * E[s^2]


# ---------------------------------------------------------------------------
# Equalised learning rate
# ---------------------------------------------------------------------------


def test_equalized_dense_runtime_scale_init_and_adam_step():
  fan_in, features, lr_mul, lr = 64, 48, 0.01, 0.1
  layer = sg.EqualizedDense(features, lr_mul=lr_mul, bias_init=0.5)
  params = jax.jit(layer.init)(jax.random.key(0), jnp.zeros((1, fan_in)))['params']
  kernel = params['kernel']
  # Stored N(0, 1/lr_mul^2): std 100 here (3072 draws: within 5%).
  assert abs(float(kernel.std()) * lr_mul - 1.0) < 0.05
  np.testing.assert_allclose(params['bias'], 0.5 / lr_mul)

  @jax.jit
  def effective(params):
    """The layer's effective (W, b), read off its outputs on the basis vectors and 0."""
    b = layer.apply({'params': params}, jnp.zeros((1, fan_in)))[0]
    return layer.apply({'params': params}, jnp.eye(fan_in)) - b, b

  scale = lr_mul / math.sqrt(fan_in)
  w_eff, b_eff = effective(params)
  np.testing.assert_allclose(w_eff, kernel * scale, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(b_eff, 0.5, rtol=1e-5)

  # One Adam step moves every stored parameter by ~lr (its first step is lr * sign(g)):
  # the effective weight by lr * lr_mul / sqrt(fan_in), the effective bias by lr * lr_mul.
  x = jax.random.normal(jax.random.key(1), (16, fan_in))
  target = jax.random.normal(jax.random.key(2), (16, features))
  tx = optax.adam(lr, eps=1e-12)

  @jax.jit
  def adam_step(params):
    loss = lambda p: jnp.mean((layer.apply({'params': p}, x) - target) ** 2)
    grads = jax.grad(loss)(params)
    updates, _ = tx.update(grads, tx.init(params), params)
    return grads, optax.apply_updates(params, updates)

  grads, moved = adam_step(params)
  np.testing.assert_allclose(moved['kernel'] - kernel, -lr * np.sign(grads['kernel']), rtol=1e-3)
  w_new, b_new = effective(moved)
  np.testing.assert_allclose(w_new - w_eff, -lr * scale * np.sign(grads['kernel']), rtol=1e-2)
  np.testing.assert_allclose(b_new - b_eff, -lr * lr_mul * np.sign(grads['bias']), rtol=1e-2)


def test_equalized_conv_uses_the_scaled_kernel_and_activation_gain():
  layer = sg.EqualizedConv(5, 3, activation='lrelu', clamp=0.3)
  x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype(np.float32)
  variables = jax.jit(layer.init)(jax.random.key(0), x)
  kernel = variables['params']['kernel']
  assert abs(float(kernel.std()) - 1.0) < 0.15  # N(0, 1) stored (lr_mul 1)
  y = jax.jit(layer.apply)(variables, x)
  pre = _conv(x, kernel / math.sqrt(3 * 3 * 4), padding=1)
  expected = np.clip(np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2), -0.3, 0.3)
  np.testing.assert_allclose(y, expected, atol=1e-5)


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------

SMALL = dict(z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
D_SMALL = dict(channel_base=256, channel_max=32, mapping_layers=2)


def _spec(shape, dtype=jnp.float32):
  return jax.ShapeDtypeStruct(shape, dtype)


@pytest.mark.parametrize('size', [32, 64])
@pytest.mark.parametrize('channels', [1, 3])
@pytest.mark.parametrize('num_classes', [0, 10])
def test_shapes(size, channels, num_classes):
  g = sg.Generator(size=size, channels=channels, num_classes=num_classes, **SMALL)
  d = sg.Discriminator(size=size, channels=channels, num_classes=num_classes, **D_SMALL)
  z, c = _spec((4, 32)), (_spec((4,), jnp.int32) if num_classes else None)
  g_vars = jax.eval_shape(lambda k, z, c: g.init(k, z, c, train=False), jax.random.key(0), z, c)
  img = jax.eval_shape(
    lambda v, z, c, k: g.apply(v, z, c, rngs={'noise': k}), g_vars, z, c, jax.random.key(1)
  )
  assert (img.shape, img.dtype) == ((4, size, size, channels), jnp.float32)
  assert g.num_ws == 2 * int(math.log2(size)) - 2
  ws = jax.eval_shape(lambda v, z, c: g.apply(v, z, c, method='map'), g_vars, z, c)
  assert ws.shape == (4, g.num_ws, 32)
  d_vars = jax.eval_shape(lambda k, x, c: d.init(k, x, c), jax.random.key(0), img, c)
  logits = jax.eval_shape(lambda v, x, c: d.apply(v, x, c), d_vars, img, c)
  assert (logits.shape, logits.dtype) == ((4,), jnp.float32)
  assert set(g_vars) == {'params', 'stats', 'consts'} and set(d_vars) == {'params'}


def test_parameter_counts_are_pinned():
  """Counts of the small configuration (size 32, 3 channels, 10 classes, z = w = 32, two mapping
  layers, channel_base 256, channel_max 32: 32, 32, 16, 8 maps at 4, 8, 16, 32).

  G 49,163 = mapping 3,488 (embed 10*32+32, fc 64*32+32, 32*32+32) + synthesis 45,675
  (const 512; a 3x3 styled conv I->O: affine 32 I + I, kernel 9 I O, noise strength 1, bias O;
  toRGB: affine 33 I, kernel 3 I, bias 3). D 58,376 = blocks 1,912 + 7,472 + 19,520
  (fromRGB 3->8; 1x1 shortcut, no bias; two 3x3 convs) + epilogue 9,536 (3x3, 33->32) +
  16,416 (fc 512->32) + 1,056 (out 32->32) + projection mapping 2,464.
  """
  g = sg.Generator(size=32, channels=3, num_classes=10, **SMALL)
  d = sg.Discriminator(size=32, channels=3, num_classes=10, **D_SMALL)
  z, c, x = _spec((2, 32)), _spec((2,), jnp.int32), _spec((2, 32, 32, 3))
  g_vars = jax.eval_shape(lambda k, z, c: g.init(k, z, c, train=False), jax.random.key(0), z, c)
  d_vars = jax.eval_shape(lambda k, x, c: d.init(k, x, c), jax.random.key(0), x, c)
  assert count_params(g_vars['params']) == 49_163
  assert count_params(g_vars['params']['mapping']) == 3_488
  assert count_params(d_vars['params']) == 58_376
  g0 = sg.Generator(size=32, channels=3, **SMALL)
  d0 = sg.Discriminator(size=32, channels=3, **D_SMALL)
  g0_vars = jax.eval_shape(lambda k, z: g0.init(k, z, train=False), jax.random.key(0), z)
  d0_vars = jax.eval_shape(lambda k, x: d0.init(k, x), jax.random.key(0), x)
  assert count_params(g0_vars['params']) == 49_163 - 3_488 + 2_112  # fc0 takes z only
  assert count_params(d0_vars['params']) == 58_376 - 1_056 + 33 - 2_464  # out 32->1, no mapping


def test_tanh_output_squashes_the_linear_images_and_adds_no_parameters():
  z = jax.random.normal(jax.random.key(0), (3, 32))
  linear = sg.Generator(size=32, channels=1, **SMALL)
  tanh = sg.Generator(size=32, channels=1, output='tanh', **SMALL)
  variables = jax.jit(functools.partial(linear.init, train=False))(jax.random.key(1), z)
  run = lambda g: jax.jit(functools.partial(g.apply, noise_mode='const'))(variables, z)
  images = np.asarray(run(linear))
  assert np.abs(images).max() > 1.0  # the untrained linear G leaves [-1, 1]
  np.testing.assert_allclose(run(tanh), np.tanh(images), rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="unknown output 'sigmoid'"):
    sg.Generator(size=32, channels=1, output='sigmoid', **SMALL).init(jax.random.key(1), z)


def test_w_avg_moving_average_and_truncation():
  mapping = sg.MappingNetwork(z_dim=8, w_dim=8, num_ws=3, num_layers=2, w_avg_beta=0.9)
  z = jax.random.normal(jax.random.key(0), (5, 8))
  variables = mapping.init(jax.random.key(1), z)
  assert set(variables) == {'params', 'stats'}
  np.testing.assert_array_equal(variables['stats']['w_avg'], np.zeros(8))
  run = jax.jit(
    lambda v, z: mapping.apply(v, z, train=True, mutable=['stats']),
  )
  ws, stats = run(variables, z)
  chex.assert_shape(ws, (5, 3, 8))
  w = np.asarray(ws[:, 0])
  np.testing.assert_allclose(stats['stats']['w_avg'], 0.1 * w.mean(0), rtol=1e-5, atol=1e-7)
  _, stats2 = run({**variables, **stats}, z + 1.0)
  w2 = np.asarray(mapping.apply(variables, z + 1.0)[:, 0])
  expected = 0.9 * np.asarray(stats['stats']['w_avg']) + 0.1 * w2.mean(0)
  np.testing.assert_allclose(stats2['stats']['w_avg'], expected, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(
    sg.update_w_avg(stats['stats']['w_avg'], w2, beta=0.9), expected, rtol=1e-6
  )
  # Outside training, or without a mutable 'stats', nothing moves.
  _, frozen = mapping.apply({**variables, **stats}, z, train=False, mutable=['stats'])
  np.testing.assert_array_equal(frozen['stats']['w_avg'], stats['stats']['w_avg'])

  trained = {**variables, **stats2}
  w_avg = np.asarray(stats2['stats']['w_avg'])
  psi0 = mapping.apply(trained, z, truncation_psi=0.0)
  np.testing.assert_allclose(psi0, np.broadcast_to(w_avg, (5, 3, 8)), atol=1e-6)
  np.testing.assert_array_equal(
    mapping.apply(trained, z, truncation_psi=1.0), mapping.apply(trained, z)
  )
  half = mapping.apply(trained, z, truncation_psi=0.5, truncation_cutoff=2)
  full = np.asarray(mapping.apply(trained, z))
  np.testing.assert_allclose(half[:, :2], w_avg + 0.5 * (full[:, :2] - w_avg), atol=1e-6)
  np.testing.assert_array_equal(half[:, 2:], full[:, 2:])


def test_noise_modes():
  layer = sg.StyledConv(4, 8)
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  w = jax.random.normal(jax.random.key(1), (2, 5))
  variables = jax.jit(layer.init)(jax.random.key(2), x, w)
  assert jax.tree.map(jnp.shape, variables['consts']) == {'noise': (8, 8)}
  assert variables['params']['noise_strength'].shape == ()
  params = {**variables['params'], 'noise_strength': jnp.asarray(0.5)}
  variables = {**variables, 'params': params}
  run = jax.jit(lambda v, key, mode: layer.apply(v, x, w, noise_mode=mode, rngs={'noise': key}),
                static_argnums=2)  # fmt: skip
  none = run(variables, jax.random.key(3), 'none')
  random_a, random_b = (run(variables, jax.random.key(k), 'random') for k in (3, 4))
  const_a, const_b = (run(variables, jax.random.key(k), 'const') for k in (3, 4))
  assert np.abs(random_a - random_b).max() > 1e-2  # a new key, new noise
  assert np.abs(random_a - none).max() > 1e-2
  np.testing.assert_array_equal(const_a, const_b)
  # 'const' adds strength * the stored image to every example and channel, before the
  # bias (0 at init) and the leaky ReLU (inverted here).
  pre = lambda y: np.where(y > 0, y, y / 0.2) / math.sqrt(2)
  added = pre(np.asarray(const_a)) - pre(np.asarray(none))
  expected = 0.5 * np.asarray(variables['consts']['noise'])[None, :, :, None]
  np.testing.assert_allclose(added, np.broadcast_to(expected, added.shape), atol=1e-4)
  with pytest.raises(ValueError, match="'noise' RNG"):
    layer.apply(variables, x, w)


def test_generator_and_discriminator_run_in_float32_and_bfloat16():
  g = sg.Generator(size=32, channels=3, num_classes=10, **SMALL)
  d = sg.Discriminator(size=32, channels=3, num_classes=10, **D_SMALL)
  z = jax.random.normal(jax.random.key(0), (4, 32))
  c = jnp.arange(4) % 10
  g_vars = init_variables(g, jax.random.key(1), [z, c])
  # Learned noise strengths start at 0: give them a value so that the noise shows.
  with_noise = lambda path, p: p + 0.5 if 'noise_strength' in jax.tree_util.keystr(path) else p
  g_vars = {**g_vars, 'params': jax.tree.map_with_path(with_noise, g_vars['params'])}

  @jax.jit
  def generate(variables, z, c):
    ws = g.apply(variables, z, c, method='map')
    whole = g.apply(variables, z, c, noise_mode='const')
    return whole, g.apply(variables, ws, method='synthesize', noise_mode='const')

  img, split = generate(g_vars, z, c)
  chex.assert_tree_all_finite(img)
  np.testing.assert_array_equal(img, split)  # map then synthesize == call
  d_vars = init_variables(d, jax.random.key(4), [img, c])
  logits = jax.jit(d.apply)(d_vars, img, c)
  chex.assert_shape(logits, (4,))
  chex.assert_tree_all_finite(logits)

  # bfloat16 in the two highest resolutions: the same variables, outputs close, float32.
  half = dict(num_half_res=2, dtype=jnp.bfloat16)
  g16 = sg.Generator(size=32, channels=3, num_classes=10, **half, **SMALL)
  d16 = sg.Discriminator(size=32, channels=3, num_classes=10, **half, **D_SMALL)

  @jax.jit
  def both16(g_vars, d_vars, z, c, img):
    return g16.apply(g_vars, z, c, noise_mode='const'), d16.apply(d_vars, img, c)

  img16, logits16 = both16(g_vars, d_vars, z, c, img)
  # Which blocks compute in bfloat16: the two highest resolutions, in G and in D.
  blocks = lambda module, method: isinstance(module, sg.SynthesisBlock | sg.DiscriminatorBlock)
  _, g_seen = jax.eval_shape(
    lambda v: g16.apply(
      v, z, c, noise_mode='none', capture_intermediates=blocks, mutable=['intermediates']
    ),
    g_vars,
  )
  _, d_seen = jax.eval_shape(
    lambda v: d16.apply(v, img, c, capture_intermediates=blocks, mutable=['intermediates']),
    d_vars,
  )
  g_dtypes = {k: v['__call__'][0][0].dtype for k, v in g_seen['intermediates']['synthesis'].items()}
  d_dtypes = {k: v['__call__'][0].dtype for k, v in d_seen['intermediates'].items()}
  f32, bf16 = jnp.float32, jnp.bfloat16
  assert g_dtypes == {'b4': f32, 'b8': f32, 'b16': bf16, 'b32': bf16}, g_dtypes
  assert d_dtypes == {'b32': bf16, 'b16': bf16, 'b8': f32}, d_dtypes
  assert img16.dtype == logits16.dtype == jnp.float32
  np.testing.assert_allclose(img16, img, atol=0.05 * float(np.abs(img).max()))
  np.testing.assert_allclose(logits16, logits, atol=0.05 * float(np.abs(logits).max()))
