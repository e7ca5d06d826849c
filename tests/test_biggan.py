"""BigGAN and its class-conditional toolkit: conditional BatchNorm, self-attention,
orthogonal regularisation, truncated latents, and the networks' shapes and counts."""

import doctest
import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgan import conditional, models
from jaxgan.models import biggan
from jaxgan.state import count_params

# A tiny BigGAN-32: G is 16 channels wide (4 x width), D 8 (2 x width); z in 4 chunks of 2.
TINY = dict(size=32, width=4, latent_dim=8, shared_dim=4, num_classes=3, attention_res=16)
# Counted by hand (cond = shared 4 + chunk 2 = 6 inputs to each conditional BatchNorm map):
# G: shared embedding 3*4 = 12; linear 2*256 + 256 = 768; 3 up-blocks of
#   (2 BNs x 2 maps x 6*16 = 384) + 2 convs (9*16*16 + 16 = 2320) + skip (16*16 + 16) = 5296;
#   attention at 16x16: 16*2 + 16*2 + 16*8 + 8*16 + gamma = 321; output BN 32; conv 9*16*3 + 3.
TINY_G = 12 + 768 + 3 * 5296 + 321 + 32 + 435  # 17_456
# D: block0 (3->8, optimized) 224 + 584 + 32 = 840; attention at 16x16: 8 + 8 + 32 + 32 + 1;
#   block1 (8->8, down, 1x1 skip) 584 + 584 + 72; blocks 2, 3 (no downsampling, identity skip)
#   584 + 584 each; linear 8 + 1; projection embedding 3*8.
TINY_D = 840 + 81 + 1240 + 2 * 1168 + 9 + 24  # 4_530
# The StudioGAN CIFAR-10 pair (width 96, z 80, shared 128, 10 classes, attention at 16x16), and
# G-128 with BigGAN-PyTorch's ImageNet settings (width 96, z 120, attention at 64x64): 70,433,988
# is the count published for BigGAN-PyTorch's G at 128 with ch=96 and 1000 classes.
CIFAR_G, CIFAR_D = 9_416_196, 2_415_170
IMAGENET128_G = 70_433_988


def _tiny_inputs(batch=4):
  z = jax.random.normal(jax.random.key(1), (batch, TINY['latent_dim']))
  labels = jnp.arange(batch, dtype=jnp.int32) % TINY['num_classes']
  return z, labels


def _leaves(tree):
  return jax.tree_util.tree_leaves_with_path(tree)


def _path(path):
  """A variable's path without the spectral-norm wrappers' own names: 'block0/conv1/kernel'."""
  parts = jax.tree_util.keystr(path, simple=True, separator='/').split('/')
  return '/'.join(p for p in parts if not p.startswith('SpectralNorm_'))


def _param_shapes(module, *inputs):
  return _init_shapes(module, *inputs)[1]


def _init_shapes(module, *inputs):
  """`(output, variables)` of an inference-mode init, as shapes: traced, never compiled."""
  init = lambda *x: module.init_with_output(jax.random.key(0), *x, train=False)
  return jax.eval_shape(init, *inputs)


# --- conditional BatchNorm ------------------------------------------------------------------


def test_conditional_batchnorm_is_batchnorm_then_per_class_affine():
  rng = np.random.default_rng(0)
  x = (2.0 * rng.standard_normal((6, 3, 3, 5)) + 0.5).astype(np.float32)
  labels = np.array([0, 2, 1, 2, 0, 1])
  one_hot = np.eye(3, dtype=np.float32)[labels]
  gains = rng.uniform(0.5, 2.0, (3, 5)).astype(np.float32)
  biases = rng.standard_normal((3, 5)).astype(np.float32)
  cbn = conditional.ConditionalBatchNorm()
  bn = nn.BatchNorm(momentum=0.9, epsilon=1e-5, use_scale=False, use_bias=False)

  @jax.jit  # one compiled program (eagerly every operation would compile on its own)
  def run(x, one_hot, gains, biases):
    init = cbn.init(jax.random.key(3), x, one_hot, train=False)
    # gain = 1 + cond @ W_gain: the rows of W_gain are the per-class gains minus 1.
    params = {'gain': {'kernel': gains - 1.0}, 'bias': {'kernel': biases}}
    variables = {'params': params, 'batch_stats': init['batch_stats']}
    out, updated = cbn.apply(variables, x, one_hot, train=True, mutable=['batch_stats'])
    bn_vars = bn.init(jax.random.key(4), x, use_running_average=True)
    ref, ref_updated = bn.apply(bn_vars, x, use_running_average=False, mutable=['batch_stats'])
    # Inference normalises with the running averages.
    eval_out = cbn.apply({'params': params, **updated}, 0.5 * x, one_hot, train=False)
    eval_ref = bn.apply(ref_updated, 0.5 * x, use_running_average=True)
    return (
      init['params'],
      (out, updated['batch_stats']['bn'], eval_out),
      (ref, ref_updated, eval_ref),
    )

  init_params, (out, stats_, eval_out), (ref, ref_stats, eval_ref) = run(x, one_hot, gains, biases)
  kernel = init_params['gain']['kernel']  # orthogonal init: a [3, 5] kernel has orthonormal rows
  np.testing.assert_allclose(kernel @ kernel.T, np.eye(3), atol=1e-5)
  affine = lambda y: y * gains[labels][:, None, None, :] + biases[labels][:, None, None, :]
  np.testing.assert_allclose(out, affine(ref), rtol=1e-5, atol=1e-5)
  # The running averages move as flax BatchNorm's do (and away from their initial values).
  chex.assert_trees_all_close(stats_, ref_stats['batch_stats'])
  assert float(jnp.abs(stats_['mean']).max()) > 0.01
  np.testing.assert_allclose(eval_out, affine(eval_ref), rtol=1e-5, atol=1e-5)


def test_conditional_batchnorm_statistics_across_devices():
  """With `axis_name`, each device's shard is normalised with the statistics of the whole batch."""
  rng = np.random.default_rng(1)
  x = (rng.standard_normal((6, 2, 2, 4)) + np.arange(6)[:, None, None, None]).astype(np.float32)
  cond = rng.standard_normal((6, 3)).astype(np.float32)
  cbn = conditional.ConditionalBatchNorm(axis_name='devices')

  @jax.jit
  def run(x, cond):
    variables = cbn.init(jax.random.key(0), x, cond, train=False)
    apply = functools.partial(cbn.apply, variables, train=True, mutable=['batch_stats'])
    whole = conditional.ConditionalBatchNorm().apply(
      variables, x, cond, train=True, mutable=['batch_stats']
    )
    shards = jax.vmap(apply, axis_name='devices')(x.reshape(2, 3, 2, 2, 4), cond.reshape(2, 3, 3))
    return whole, shards

  (whole, whole_stats), (shards, shard_stats) = run(x, cond)
  np.testing.assert_allclose(shards.reshape(whole.shape), whole, rtol=1e-5, atol=1e-5)
  for device in (0, 1):
    shard = jax.tree.map(functools.partial(lambda i, a: a[i], device), shard_stats)
    chex.assert_trees_all_close(shard, whole_stats)


def test_conditional_batchnorm_rejects_a_mismatched_condition():
  cbn = conditional.ConditionalBatchNorm()
  with pytest.raises(ValueError, match='cond'):
    _param_shapes(cbn, jnp.zeros((4, 2, 2, 3)), jnp.zeros((3, 5)))


# --- self-attention -------------------------------------------------------------------------


def _attention_reference(x, params, pool):
  """SAGAN attention in NumPy from the module's parameters."""
  x = np.asarray(x, np.float64)
  b, h, w, c = x.shape
  kernel = lambda name: np.asarray(params[name]['kernel'], np.float64)[0, 0]  # [in, out]
  query, key, value = (x @ kernel(n) for n in ('query', 'key', 'value'))
  if pool:
    pool2 = lambda t: t.reshape(b, h // 2, 2, w // 2, 2, -1).max(axis=(2, 4))
    key, value = pool2(key), pool2(value)
  query = query.reshape(b, h * w, -1)
  key, value = key.reshape(b, -1, key.shape[-1]), value.reshape(b, -1, value.shape[-1])
  logits = np.einsum('bnc,bmc->bnm', query, key)
  weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
  weights /= weights.sum(axis=-1, keepdims=True)  # softmax over the key positions
  attended = np.einsum('bnm,bmc->bnc', weights, value).reshape(b, h, w, -1)
  return x + float(params['gamma']) * attended @ kernel('out')


@pytest.mark.parametrize('pool', [True, False])
def test_self_attention_matches_numpy(pool):
  rng = np.random.default_rng(0)
  x = rng.standard_normal((2, 4, 6, 16)).astype(np.float32)
  attention = conditional.SelfAttention(pool=pool, spectral_norm=False)
  shapes = _param_shapes(attention, x)['params']
  assert {k: v['kernel'].shape for k, v in shapes.items() if k != 'gamma'} == {
    'query': (1, 1, 16, 2),
    'key': (1, 1, 16, 2),
    'value': (1, 1, 16, 8),
    'out': (1, 1, 8, 16),
  }
  # Random weights (the orthogonal init of a 1x1 kernel is not random enough in scale) and a gate.
  params = {
    k: {'kernel': rng.standard_normal(v['kernel'].shape).astype(np.float32)}
    for k, v in shapes.items()
    if k != 'gamma'
  }
  params['gamma'] = np.float32(0.7)
  out = jax.jit(functools.partial(attention.apply, train=True))({'params': params}, x)
  np.testing.assert_allclose(out, _attention_reference(x, params, pool), rtol=2e-5, atol=2e-5)


def test_self_attention_starts_as_the_identity():
  x = np.random.default_rng(0).standard_normal((2, 4, 4, 8)).astype(np.float32)
  attention = conditional.SelfAttention()  # spectrally normalised, as in BigGAN

  @jax.jit
  def run(x):
    variables = attention.init(jax.random.key(1), x, train=False)
    trained, _ = attention.apply(variables, x, train=True, mutable=['batch_stats'])
    return variables['params']['gamma'], trained, attention.apply(variables, x, train=False)

  gamma, trained, inferred = run(x)
  assert float(gamma) == 0.0
  np.testing.assert_array_equal(trained, x)
  np.testing.assert_array_equal(inferred, x)


def test_self_attention_shape_errors():
  with pytest.raises(ValueError, match='divisible by 8'):
    _param_shapes(conditional.SelfAttention(), jnp.zeros((1, 4, 4, 12)))
  with pytest.raises(ValueError, match='even H and W'):
    _param_shapes(conditional.SelfAttention(), jnp.zeros((1, 3, 4, 8)))


# --- orthogonal regularisation --------------------------------------------------------------


def _closed_form_grad(kernel):
  """2 (W W^T * (1 - I)) W for W the [out, -1] view of a [..., out] kernel, as the kernel."""
  w = np.moveaxis(np.asarray(kernel, np.float64), -1, 0)
  shape = w.shape
  w = w.reshape(shape[0], -1)
  grad = 2.0 * ((w @ w.T) * (1.0 - np.eye(shape[0]))) @ w
  return np.moveaxis(grad.reshape(shape), 0, -1)


def test_orthogonal_regularisation_gradient_is_the_closed_form():
  keys = iter(jax.random.split(jax.random.key(0), 6))
  params = {
    'conv': {'kernel': jax.random.normal(next(keys), (3, 3, 4, 6)), 'bias': jnp.ones(6)},
    'dense': {'kernel': jax.random.normal(next(keys), (5, 7))},
    'shared_embedding': {'embedding': jax.random.normal(next(keys), (4, 3))},
    'block': {'class_embedding': {'embedding': jax.random.normal(next(keys), (3, 6))}},
    'bn': {'scale': jax.random.normal(next(keys), (6,))},
    'gamma': jnp.float32(0.3),
  }
  penalty = conditional.orthogonal_regularisation

  @jax.jit
  def gradients(params):  # one compiled program for the three settings
    return (
      jax.grad(functools.partial(penalty, strength=1.0))(params),
      jax.grad(penalty)(params),  # BigGAN's strength 1e-4
      jax.grad(functools.partial(penalty, exclude=()))(params),
    )

  grads, default, everything = gradients(params)
  for name in ('conv', 'dense'):
    kernel = params[name]['kernel']
    np.testing.assert_allclose(
      grads[name]['kernel'], _closed_form_grad(kernel), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
      default[name]['kernel'], 1e-4 * _closed_form_grad(kernel), rtol=1e-4, atol=1e-8
    )
  # Embeddings (any path containing 'embed'), biases, BatchNorm scales and gates: untouched.
  for path in (('shared_embedding', 'embedding'), ('block', 'class_embedding', 'embedding')):
    leaf = functools.reduce(lambda tree, k: tree[k], path, grads)
    np.testing.assert_array_equal(leaf, 0.0)
  for leaf in (grads['conv']['bias'], grads['bn']['scale'], grads['gamma']):
    np.testing.assert_array_equal(leaf, 0.0)
  # With nothing excluded the embeddings count too.
  np.testing.assert_allclose(
    everything['shared_embedding']['embedding'],
    1e-4 * _closed_form_grad(params['shared_embedding']['embedding']),
    rtol=1e-4,
    atol=1e-8,
  )


def test_orthogonal_regularisation_of_orthogonal_filters_is_zero():
  kernel = jax.nn.initializers.orthogonal()(jax.random.key(0), (3, 3, 8, 16))
  assert float(conditional.orthogonal_regularisation({'k': kernel}, strength=1.0)) < 1e-10
  assert float(conditional.orthogonal_regularisation({'k': 2.0 * kernel}, strength=1.0)) < 1e-9


# --- truncation ----------------------------------------------------------------------------


def test_doctests():
  assert doctest.testmod(conditional).failed == 0


def test_truncated_normal_never_exceeds_the_threshold_and_is_the_truncated_law():
  threshold = 0.5
  z = conditional.truncated_normal_resample(jax.random.key(0), (8192, 4), threshold)
  chex.assert_shape(z, (8192, 4))
  assert float(jnp.max(jnp.abs(z))) <= threshold
  # The resampled law is N(0, 1) conditioned on |z| <= t (clipping would pile mass at +-t).
  assert abs(float(jnp.std(z)) - stats.truncnorm.std(-threshold, threshold)) < 0.005
  assert abs(float(jnp.mean(z))) < 0.01
  for bad in (0.0, -1.0):
    with pytest.raises(ValueError, match='threshold'):
      conditional.truncated_normal_resample(jax.random.key(0), (2,), bad)


def test_resample_beyond_replaces_only_the_out_of_range_components():
  threshold = 1.0
  z = 2.0 * jax.random.normal(jax.random.key(0), (512, 8))
  out = jax.jit(conditional.resample_beyond)(z, jax.random.key(1), threshold)  # traced threshold
  inside = np.abs(np.asarray(z)) <= threshold
  assert 0.2 < inside.mean() < 0.8
  np.testing.assert_array_equal(np.asarray(out)[inside], np.asarray(z)[inside])
  redrawn = np.asarray(out)[~inside]
  assert np.all(redrawn != np.asarray(z)[~inside])
  assert float(jnp.max(jnp.abs(out))) <= threshold
  # Redrawn from N(0, 1) conditioned on |z| <= t, not clipped to the boundary.
  assert np.all(np.abs(redrawn) < threshold)
  assert abs(redrawn.std() - stats.truncnorm.std(-threshold, threshold)) < 0.03


# --- the networks ---------------------------------------------------------------------------


def test_tiny_biggan32_parameter_counts_and_shapes():
  g, d = biggan.create(**TINY)
  z, labels = _tiny_inputs(1)
  g_vars = _param_shapes(g, z, labels)
  d_vars = _param_shapes(d, jnp.zeros((1, 32, 32, 3)), labels)
  assert (count_params(g_vars['params']), count_params(d_vars['params'])) == (TINY_G, TINY_D)
  assert (TINY_G, TINY_D) == (17_456, 4_530)
  g_params = g_vars['params']
  chex.assert_shape(g_params['shared_embedding']['embedding'], (3, 4))
  chex.assert_shape(g_params['linear']['kernel'], (2, 4 * 4 * 16))  # the first z chunk
  for i in range(3):  # each block's BatchNorm maps see [embedding, its own z chunk]
    chex.assert_shape(g_params[f'block{i}']['bn1']['gain']['kernel'], (4 + 2, 16))
  assert set(g_params) == {'shared_embedding', 'linear', 'block0', 'block1', 'block2'} | {
    'attention',
    'bn_out',
    'conv_out',
  }
  assert 'attention' in d_vars['params'] and 'class_embedding' in d_vars['params']
  # Spectral norm on every weight (matrices and kernels) except G's shared class embedding.
  for variables, unnormalised in ((g_vars, {'shared_embedding/embedding'}), (d_vars, set())):
    weights = {_path(p) for p, leaf in _leaves(variables['params']) if leaf.ndim >= 2}
    stats_ = {_path(p) for p, _ in _leaves(variables['batch_stats'])}
    normalised = {n.removesuffix('/u') for n in stats_ if n.endswith('/u')}  # power-iteration u
    assert weights - unnormalised == normalised
  # Every parameter is float32 whatever the compute dtype; G's images and D's logits too.
  g16, d16 = biggan.create(**TINY, dtype=jnp.bfloat16)
  for module, inputs in ((g16, (z, labels)), (d16, (jnp.zeros((1, 32, 32, 3)), labels))):
    out, variables = _init_shapes(module, *inputs)
    assert {leaf.dtype for leaf in jax.tree.leaves(variables)} == {jnp.dtype(jnp.float32)}
    assert out.dtype == jnp.float32


def test_the_factory_fits_the_model_registry(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'biggan', biggan.create)
  g, d = models.create_models('biggan', TINY, dtype=jnp.bfloat16, bn_axis_name='batch')
  assert isinstance(g, biggan.Generator) and isinstance(d, biggan.Discriminator)
  assert (g.bn_axis_name, g.dtype, d.dtype) == ('batch', jnp.bfloat16, jnp.bfloat16)
  assert (g.latent_dim, g.shared_dim, g.num_classes, d.num_classes) == (8, 4, 3, 3)
  with pytest.raises(ValueError, match='takes no argument'):
    models.create_models('biggan', {**TINY, 'd_norm': 'spectral'})


def test_reference_parameter_counts():
  g, d = biggan.create(size=32, width=96, latent_dim=80, shared_dim=128, num_classes=10)
  labels = jnp.zeros((1,), jnp.int32)
  g_count = count_params(_param_shapes(g, jnp.zeros((1, 80)), labels)['params'])
  d_count = count_params(_param_shapes(d, jnp.zeros((1, 32, 32, 3)), labels)['params'])
  assert (g_count, d_count) == (CIFAR_G, CIFAR_D)
  g, _ = biggan.create(size=128, latent_dim=120, num_classes=1000, attention_res=64)
  g_count = count_params(_param_shapes(g, jnp.zeros((1, 120)), labels)['params'])
  assert g_count == IMAGENET128_G


def _fake_variables(shapes, seed=0):
  """Variables of the shapes of `shapes` without compiling an init (a jitted init of the tiny
  BigGAN compiles one random kernel per layer: 10-20 s on a loaded 2-core CPU). Weights and
  spectral-norm vectors are N(0, 0.5^2), running means 0, variances and sigmas 1, gates 0.5."""
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = jax.tree_util.keystr(path, simple=True, separator='/')
    if name.endswith('/mean'):
      return jnp.zeros(leaf.shape, leaf.dtype)
    if name.endswith(('/var', '/sigma')):
      return jnp.ones(leaf.shape, leaf.dtype)
    if name.endswith('gamma'):
      return jnp.full(leaf.shape, 0.5, leaf.dtype)
    return jnp.asarray(0.5 * rng.standard_normal(leaf.shape), leaf.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def test_tiny_biggan32_forward_in_train_mode_updates_its_state():
  g, d = biggan.create(**TINY)
  z, labels = _tiny_inputs()
  g_vars = _fake_variables(_param_shapes(g, z, labels))
  g_train = jax.jit(functools.partial(g.apply, train=True, mutable=['batch_stats']))
  images, g_updated = g_train(g_vars, z, labels)
  chex.assert_shape(images, (4, 32, 32, 3))
  assert images.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  assert float(jnp.std(images)) > 0.01
  chex.assert_tree_all_finite(images)
  before, after = g_vars['batch_stats'], g_updated['batch_stats']
  assert jax.tree.structure(before) == jax.tree.structure(after)
  # Every running average of the (conditional) BatchNorms and every spectral-norm estimate move.
  moved = jax.tree.map(lambda a, b: not np.allclose(a, b), before, after)
  assert all(jax.tree.leaves(moved)), moved
  assert {'mean', 'var'} <= set(after['block1']['bn2']['bn'])
  assert any(k.startswith('SpectralNorm') for k in after)
  # Inference uses the running averages: each image is independent of the rest of the batch.
  g_eval = jax.jit(functools.partial(g.apply, train=False))
  variables = {'params': g_vars['params'], **g_updated}
  perm = jnp.array([2, 0, 3, 1])
  base = g_eval(variables, z, labels)
  np.testing.assert_allclose(g_eval(variables, z[perm], labels[perm]), base[perm], atol=1e-5)
  # Hierarchical latents: each of the 4 chunks of z (the linear layer's, then one per block)
  # changes the images; so does the class.
  for chunk in range(4):
    nudged = z.at[:, 2 * chunk : 2 * chunk + 2].add(1.0)
    assert float(jnp.abs(g_eval(variables, nudged, labels) - base).max()) > 1e-3, chunk
  assert float(jnp.abs(g_eval(variables, z, (labels + 1) % 3) - base).max()) > 1e-3

  d_vars = _fake_variables(_param_shapes(d, images, labels), seed=1)
  d_train = jax.jit(functools.partial(d.apply, train=True, mutable=['batch_stats']))
  logits, d_updated = d_train(d_vars, images, labels)
  chex.assert_shape(logits, (4,))
  assert logits.dtype == jnp.float32
  chex.assert_tree_all_finite(logits)
  moved = jax.tree.map(
    lambda a, b: not np.allclose(a, b), d_vars['batch_stats'], d_updated['batch_stats']
  )
  assert all(jax.tree.leaves(moved)), moved  # every u and sigma of D's spectral norms


def test_unconditional_biggan_shapes():
  g, d = biggan.create(**{**TINY, 'num_classes': 0})
  z, _ = _tiny_inputs(2)
  images, g_vars = _init_shapes(g, z)
  assert 'shared_embedding' not in g_vars['params']
  chex.assert_shape(g_vars['params']['block0']['bn1']['gain']['kernel'], (2, 16))  # z chunk only
  chex.assert_shape(images, (2, 32, 32, 3))
  logits, d_vars = _init_shapes(d, images)
  assert 'class_embedding' not in d_vars['params']
  chex.assert_shape(logits, (2,))


@pytest.mark.parametrize('size', [64, 128, 256])
def test_larger_sizes_shapes(size):
  latent_dim = {64: 10, 128: 12, 256: 14}[size]  # blocks + 1 chunks of 2
  g, d = biggan.create(
    size=size, width=8, latent_dim=latent_dim, shared_dim=2, num_classes=2, attention_res=32
  )
  z, labels = jnp.zeros((1, latent_dim)), jnp.zeros((1,), jnp.int32)
  images, _ = _init_shapes(g, z, labels)
  chex.assert_shape(images, (1, size, size, 3))
  logits, _ = _init_shapes(d, images, labels)
  chex.assert_shape(logits, (1,))


def test_bad_settings_are_clear_errors():
  with pytest.raises(ValueError, match='size'):
    biggan.create(size=48)
  with pytest.raises(ValueError, match='latent_dim'):
    biggan.create(size=32, latent_dim=81)
  with pytest.raises(ValueError, match='attention_res'):
    biggan.create(size=32, attention_res=32)  # D-32's blocks output 16 and 8
  g, d = biggan.create(**TINY)
  z, labels = _tiny_inputs(2)
  with pytest.raises(ValueError, match='class ids'):
    _param_shapes(g, z)
  with pytest.raises(ValueError, match='z'):
    _param_shapes(g, z[:, :6], labels)
  with pytest.raises(ValueError, match='class ids'):
    _param_shapes(d, jnp.zeros((2, 32, 32, 3)), labels.astype(jnp.float32))


# ----- BigGAN as a model of the GAN game: trains, resumes exactly, one device = eight --------


def _game_config(**train):
  from tests.helpers import smoke_config

  config = smoke_config('experiments/biggan/mnist5k.py')
  config.data.source, config.data.path = 'digits', ''  # the bundled digits: no wheel needed
  config.loss.n_critic, config.train.batch_size = 1, 8
  config.loss.g_ortho, config.train.ema_start = 1e-4, 2
  config.train.checkpoint_every = 3
  for key, value in train.items():
    config.train[key] = value
  return config


@pytest.fixture(scope='module')
def straight_biggan(tmp_path_factory):
  from jaxgan import train

  workdir = tmp_path_factory.mktemp('biggan')
  return workdir, train.train_and_evaluate(_game_config(), str(workdir))


def test_a_tiny_biggan_trains_and_resumes_exactly(straight_biggan, tmp_path, caplog):
  from jaxgan import train

  _, state = straight_biggan
  chex.assert_tree_all_finite(state)
  assert int(state.step) == 6
  train.train_and_evaluate(_game_config(num_steps=3), str(tmp_path))
  with caplog.at_level('INFO'):
    resumed = train.train_and_evaluate(_game_config(), str(tmp_path))
  assert 'at step 3.' in caplog.text  # resumed, not retrained from 0
  chex.assert_trees_all_equal(jax.tree.leaves(resumed), jax.tree.leaves(state))


def test_one_and_eight_devices_agree_and_truncation_resamples(straight_biggan, tmp_path):
  from jaxgan import sample, train

  workdir, one = straight_biggan
  config = _game_config()
  config.num_devices = 8
  eight = train.train_and_evaluate(config, str(tmp_path / 'eight'))
  assert len(eight.g.step.sharding.device_set) == 8
  # G's biases before its last convolution feed a BatchNorm (the first linear layer's, a
  # block's convolutions' and shortcut's): it removes them, so their gradient is zero up to
  # rounding, which Adam turns into full steps, different on 8 devices. The rest must agree.
  before_bn = lambda path: path[-1].key == 'bias' and 'out' not in str(path[0].key)
  kept = lambda params: {
    jax.tree_util.keystr(k): v
    for k, v in jax.tree_util.tree_leaves_with_path(params)
    if not before_bn(k)
  }
  # Six Adam steps of 1e-4 / 4e-4 move a weight by up to 6e-4 / 2.4e-3: compare the moves,
  # to 2e-5 (a few per cent of them; 8-device sums round differently).
  from jaxgan import seeds

  initial = seeds.game_of(config).create_state(config)
  moved = lambda new, old: jax.tree.map(jnp.subtract, kept(new), kept(old))
  g_eight, g_one = moved(eight.g.params, initial.g.params), moved(one.g.params, initial.g.params)
  chex.assert_trees_all_close(g_eight, g_one, rtol=2e-2, atol=2e-5)
  d_eight, d_one = moved(eight.d.params, initial.d.params), moved(one.d.params, initial.d.params)
  chex.assert_trees_all_close(d_eight, d_one, rtol=2e-2, atol=2e-5)
  # sample --truncation=0.5: the same latents, those beyond 0.5 redrawn: other images.
  kept = np.load(sample.sample_from_workdir(str(workdir), n=2, fmt='npy', label='3'))
  cut = np.load(sample.sample_from_workdir(str(workdir), n=2, fmt='npy', label='3', truncation=0.5))
  assert kept.shape == cut.shape == (2, 32, 32, 1) and not np.allclose(kept, cut)
