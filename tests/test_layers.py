"""The fast transposed convolution equals XLA's and the scatter definition."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import layers

CASES = [  # (size, kernel, stride, padding)
  (5, 4, 2, 1),  # DCGAN's upsampling layer
  (1, 4, 1, 0),  # DCGAN's first layer from 1x1
  (1, 7, 1, 0),  # 28x28 DCGAN's first layer
  (3, 3, 2, 1),  # kernel not divisible by stride
  (4, 5, 3, 2),
  (4, 3, 1, 1),
  (3, 4, 2, 0),
]


def _value_and_vjp(f, x, kernel, cotangent):
  """`f(x, kernel)` and its input/kernel gradients for `cotangent`, as one compiled program
  (run eagerly, each operation of the forward and backward pass compiles on its own)."""

  def run(x, kernel, cotangent):
    y, vjp = jax.vjp(f, x, kernel)
    return y, vjp(cotangent)

  return jax.jit(run)(x, kernel, cotangent)


def _scatter_reference(x, kernel, stride, padding):
  b, h, w, _ = x.shape
  k = kernel.shape[0]
  full = np.zeros((b, (h - 1) * stride + k, (w - 1) * stride + k, kernel.shape[-1]))
  for i in range(h):
    for j in range(w):
      for a in range(k):
        for c in range(k):
          full[:, i * stride + a, j * stride + c] += x[:, i, j] @ kernel[a, c]
  out = layers.transposed_output_size(h, k, stride, padding)
  return full[:, padding : padding + out, padding : padding + out]


@pytest.mark.parametrize('impl', ['fast', 'subpixel', 'patches', 'taps', 'xla'])
@pytest.mark.parametrize('size,k,s,p', CASES)
def test_matches_scatter_definition(impl, size, k, s, p):
  rng = np.random.default_rng(size * 100 + k * 10 + s)
  x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
  kernel = rng.normal(size=(k, k, 3, 4)).astype(np.float32)
  y = jax.jit(lambda x, kernel: layers.conv_transpose(x, kernel, stride=s, padding=p, impl=impl))(
    x, kernel
  )
  np.testing.assert_allclose(y, _scatter_reference(x, kernel, s, p), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('impl', ['fast', 'subpixel', 'patches', 'taps'])
@pytest.mark.parametrize('size,k,s,p', CASES)
def test_values_and_gradients_match_lax_conv_transpose(impl, size, k, s, p):
  rng = np.random.default_rng(size + k + s + p)  # NumPy: no random kernel to compile per shape
  x = rng.normal(size=(3, size, size, 5)).astype(np.float32)
  kernel = rng.normal(size=(k, k, 5, 6)).astype(np.float32)
  out = layers.transposed_output_size(size, k, s, p)
  cotangent = rng.normal(size=(3, out, out, 6)).astype(np.float32)

  def reference(x, kernel):  # transpose_kernel=True is the gradient-of-conv (PyTorch) convention
    pad = k - 1 - p
    return jax.lax.conv_transpose(
      x,
      jnp.swapaxes(kernel, 2, 3),
      (s, s),
      [(pad, pad)] * 2,
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      transpose_kernel=True,
    )

  def fast(x, kernel):
    return layers.conv_transpose(x, kernel, stride=s, padding=p, impl=impl)

  y_ref, grads_ref = _value_and_vjp(reference, x, kernel, cotangent)
  y, grads = _value_and_vjp(fast, x, kernel, cotangent)
  np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
  for g, g_ref in zip(grads, grads_ref, strict=True):
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-3)


def test_module_matches_flax_conv_transpose():
  # Flax's nn.ConvTranspose(transpose_kernel=True, padding=k-1-p) is PyTorch's ConvTranspose2d.
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 4))
  ours = layers.ConvTranspose(6, 4, 2, 1)
  variables = ours.init(jax.random.key(1), x)
  kernel = variables['params']['kernel']
  theirs = nn.ConvTranspose(6, (4, 4), (2, 2), padding=[(2, 2), (2, 2)], transpose_kernel=True)
  y_ref = theirs.apply(
    {'params': {'kernel': jnp.swapaxes(kernel, 2, 3), 'bias': variables['params']['bias']}}, x
  )
  np.testing.assert_allclose(ours.apply(variables, x), y_ref, rtol=1e-5, atol=1e-5)
  assert ours.apply(variables, x).shape == (2, 16, 16, 6)


@pytest.mark.parametrize('impl', ['fast', 'patches'])
@pytest.mark.parametrize(
  'size,k,stride,padding,c_in',
  [
    (9, 4, 2, 1, 3),  # < 16 channels: XLA's own input gradient
    (16, 4, 2, 1, 16),  # DCGAN's D layer; 16 channels, 8x8 out: the sub-pixel input gradient
    (17, 4, 2, 1, 16),  # (H + 2p - k) % s != 0: the sub-pixel gradient needs output_padding
    (15, 3, 2, 1, 16),
    (8, 4, 2, 1, 16),  # 4x4 out: XLA's own input gradient again
    (9, 4, 1, 0, 16),
    (4, 4, 1, 0, 32),  # D's last layer: base x base -> 1x1
  ],
)
def test_conv_values_and_gradients_match_xla(impl, size, k, stride, padding, c_in):
  rng = np.random.default_rng(size * 10 + c_in)
  x = rng.normal(size=(2, size, size, c_in)).astype(np.float32)
  kernel = rng.normal(size=(k, k, c_in, 5)).astype(np.float32)
  f = lambda impl: lambda x, k: layers.conv(x, k, stride=stride, padding=padding, impl=impl)
  out = jax.eval_shape(f('xla'), x, kernel).shape
  cotangent = rng.normal(size=out).astype(np.float32)
  y, grads = _value_and_vjp(f(impl), x, kernel, cotangent)
  y_ref, grads_ref = _value_and_vjp(f('xla'), x, kernel, cotangent)
  np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
  for a, b in zip(grads, grads_ref, strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize('output_padding', [1])
@pytest.mark.parametrize('impl', ['subpixel', 'patches', 'fast'])
def test_output_padding_matches_xla(impl, output_padding):
  x = jax.random.normal(jax.random.key(0), (2, 5, 5, 3))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
  f = lambda impl: layers.conv_transpose(
    x, kernel, stride=2, padding=1, output_padding=output_padding, impl=impl
  )
  assert f(impl).shape == (2, 10, 10, 4)
  np.testing.assert_allclose(f(impl), f('xla'), rtol=1e-5, atol=1e-5)


def test_bad_inputs():
  with pytest.raises(ValueError, match='unknown conv_transpose impl'):
    layers.conv_transpose(
      jnp.zeros((1, 2, 2, 3)), jnp.zeros((4, 4, 3, 2)), stride=2, padding=1, impl='fft'
    )
  with pytest.raises(ValueError, match='does not fit input'):
    layers.conv_transpose(jnp.zeros((1, 2, 2, 3)), jnp.zeros((4, 4, 5, 2)), stride=2, padding=1)
