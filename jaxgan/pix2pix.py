"""The pix2pix game (Isola et al. 2017): paired translation A -> B, one G, one conditional D.

G is a U-Net with dropout as its noise; D is a PatchGAN that sees the input
and an output side by side (`concat(a, b)`, 6 channels) with batch norm. The
reference order: D is updated on real pairs and on `stop_gradient` fakes (two
calls, so each has its own batch statistics), then G against the updated D
through the same fakes (one G forward pass, reused with `jax.vjp`), with the
loss `adversarial + l1_weight * |G(a) - b|_1`.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import cyclegan, images, losses, optim, steps
from jaxgan import state as state_lib
from jaxgan.data import pipeline, sources
from jaxgan.errors import ConfigError
from jaxgan.models import cyclegan as cg
from jaxgan.state import GANState

Array = jax.Array


def train_step(
  state: GANState,
  batch: dict[str, Array],
  *,
  loss: str = 'non_saturating',
  l1_weight: float = 100.0,
  d_weight: float = 0.5,
  axis_name: str | None = None,
) -> tuple[GANState, dict[str, Array]]:
  """One D update, then one G update against the updated D.

  Args:
    state: the game.
    batch: `{'a': [B, H, W, C], 'b': [B, H, W, C]}`, paired.
    loss: adversarial loss name (the reference: 'non_saturating', its 'vanilla').
    l1_weight: weight of `|G(a) - b|_1` (reference 100).
    d_weight: D's loss factor (the reference halves it to slow D down).
    axis_name: the pmap axis (gradients and metrics are averaged over it).
  """
  adversarial = losses.get_adversarial_loss(loss)
  if adversarial.g_needs_real:
    raise ValueError(f'the pix2pix step does not support {loss!r}')
  a, b = batch['a'], batch['b']
  dropout_rng = state.step_key()
  fake_b, g_vjp, g_collections = jax.vjp(
    lambda p: state.g.apply(p, a, train=True, rngs={'dropout': dropout_rng}),
    state.g.params,
    has_aux=True,
  )

  d = state.d
  fake = jax.lax.stop_gradient(fake_b)

  def d_loss_fn(params):
    real_logits, collections = d.apply(params, jnp.concatenate([a, b], -1), train=True)
    fake_logits, collections = d.apply(
      params, jnp.concatenate([a, fake], -1), train=True, collections=collections
    )
    value = d_weight * jnp.mean(adversarial.d(real_logits.reshape(-1), fake_logits.reshape(-1)))
    return value, (collections, {'d_loss': value})

  d_grads, (d_collections, d_metrics) = jax.grad(d_loss_fn, has_aux=True)(d.params)
  d_grads, d_metrics = steps.pmean((d_grads, d_metrics), axis_name)
  d = d.apply_gradients(d_grads, d_collections)

  def g_loss_fn(fake_b):
    logits, _ = d.apply(d.params, jnp.concatenate([a, fake_b], -1), train=True)
    logits = logits.reshape(-1)
    adv = jnp.mean(adversarial.g(logits, logits))
    l1 = jnp.mean(losses.l1_per_example(fake_b, b))
    return adv + l1_weight * l1, {'g_adv': adv, 'l1': l1}

  (g_loss, g_metrics), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake_b)
  (g_grads,) = g_vjp(d_fake)
  g_grads, g_loss, g_metrics = steps.pmean((g_grads, g_loss, g_metrics), axis_name)
  metrics = {
    **d_metrics,
    **g_metrics,
    'g_loss': g_loss,
    'd_grad_norm': optax.tree.norm(d_grads),
    'g_grad_norm': optax.tree.norm(g_grads),
  }
  g = state.g.apply_gradients(g_grads, g_collections)
  return state.replace(step=state.step + 1, g=g, d=d), metrics


DIRECTIONS = ('AtoB', 'BtoA')


def translate(state: GANState, a: Array) -> Array:
  """G(a) in inference mode (running statistics, no dropout)."""
  return state.g.apply(state.g.params, a, train=False)[0]


# --- the pix2pix game for the trainer ---


def validate(config) -> None:
  if config.model.name != 'pix2pix':
    raise ConfigError(
      f"config.game='pix2pix' needs config.model.name='pix2pix'; got {config.model.name!r}"
    )
  if config.model.size % 2**config.model.num_downs:
    raise ConfigError(
      f'config.model.size={config.model.size} must be divisible by '
      f'2**config.model.num_downs={2**config.model.num_downs}'
    )
  if config.data.load_size < config.data.size:
    raise ConfigError(
      f'config.data.load_size={config.data.load_size} must be >= '
      f'config.data.size={config.data.size}'
    )
  if config.data.direction not in DIRECTIONS:
    raise ConfigError(
      f'config.data.direction={config.data.direction!r}; known: {", ".join(DIRECTIONS)}'
    )
  losses.get_adversarial_loss(config.loss.name)
  cyclegan.check_no_ema(config)


def create_state(config, bn_axis_name: str | None = None) -> GANState:
  del bn_axis_name  # pix2pix runs under jit (BatchNorm over the global batch)
  m, dtype = config.model, state_lib.compute_dtype(config)
  g = cg.UnetGenerator(
    features=m.features,
    num_downs=m.num_downs,
    channels_out=m.channels,
    dropout=m.dropout,
    conv_impl=m.conv_impl,
    dtype=dtype,
  )
  d = cg.PatchDiscriminator(
    features=m.d_features,
    num_layers=m.d_layers,
    norm='batch',
    conv_impl=m.conv_impl,
    dtype=dtype,
  )
  x = jnp.zeros((1, m.size, m.size, m.channels))
  return state_lib.create_gan_state(
    jax.random.key(config.seed),
    generator=g,
    discriminator=d,
    g_tx=optim.create_optimizer(config.optimizer.g, 'g'),
    d_tx=optim.create_optimizer(config.optimizer.d, 'd'),
    g_inputs=[x],
    d_inputs=[jnp.concatenate([x, x], -1)],
    use_ema=False,
  )


def step_fn(config):
  return functools.partial(
    train_step,
    loss=config.loss.name,
    l1_weight=config.loss.l1_weight,
    d_weight=config.loss.d_weight,
  )


def _sources(data) -> dict[str, sources.Source]:
  """'train' and 'test' paired sources; each record is concat(input, target) on channels."""
  found = _stored_pairs(data)
  if data.direction == 'AtoB':
    return found

  def swapped(source: sources.Source) -> sources.Source:
    def fetch(indices):
      a, b = np.split(source.fetch(indices), 2, axis=-1)
      return np.concatenate([b, a], -1)

    return source._replace(fetch=fetch, description=source.description + ', B -> A')

  return {role: swapped(source) for role, source in found.items()}


def _stored_pairs(data) -> dict[str, sources.Source]:
  """The pairs as stored (A, B), before `config.data.direction`."""
  if data.source == 'digits_mapping':
    arrays = sources.digits_unpaired(data.load_size)
    pair = lambda a: np.concatenate([a, sources.known_mapping(a)], -1)
    train = np.concatenate([arrays['train_a'], sources.inverse_known_mapping(arrays['train_b'])])
    return {
      'train': sources.array_source(pair(train), 'paired digits'),
      'test': sources.array_source(pair(arrays['test_a']), 'held-out paired digits'),
    }
  if data.source == 'folder':
    return sources.paired_folders(data.path, data.load_size, data.channels)
  if data.source == 'tfds':
    splits = {'train': data.train_split, 'test': data.test_split}
    return {
      role: sources.tfds_paired_source(
        data.name,
        split,
        data.load_size,
        data.channels,
        key_a=data.key_a,
        key_b=data.key_b,
        data_dir=data.data_dir,
      )
      for role, split in splits.items()
      if split
    }
  raise ConfigError(
    f'unknown config.data.source {data.source!r} for pix2pix; known: digits_mapping, folder, tfds'
  )


def create_batches(config, *, process_index: int = 0, process_count: int = 1):
  data = config.data
  return pipeline.PairedBatches(
    _sources(data)['train'],
    seed=config.seed,
    crop_size=data.size,
    random_flip=data.random_flip,
    channels=data.channels,
    **pipeline.loader_options(data, config.train.batch_size, process_index, process_count),
  )


class Evaluator:
  """Grids of input A | G(A) | target B on held-out pairs, and their L1 error."""

  def __init__(self, config, workdir: str, writer, dp, is_main: bool):
    self.writer, self.dp, self.is_main = writer, dp, is_main
    self.sample_dir = os.path.join(workdir, 'samples')
    found = _sources(config.data)
    test = found.get('test', found['train'])
    pairs = test.fetch(np.arange(test.num_records))
    top = (pairs.shape[1] - config.data.size) // 2
    pairs = pairs[:, top : top + config.data.size, top : top + config.data.size]
    self.a, self.b = np.split(pairs, 2, axis=-1)
    self.num_samples = config.eval.num_samples
    self._translate = jax.jit(translate)

  def _run(self, state, x):
    return self.dp.apply_in_chunks(self._translate, state, x)

  def __call__(self, state, name: str, step: int):
    fake = self._run(state, self.a)
    n = self.num_samples
    grid = images.make_grid(
      np.stack([self.a[:n], fake[:n], self.b[:n]], 1).reshape(-1, *self.a.shape[1:]), ncol=3
    )
    path = os.path.join(self.sample_dir, f'{name}.png')
    if self.is_main:
      images.save_png(grid, path)
    self.writer.image(step, 'samples', grid)
    metrics = {
      'test_l1': float(np.mean(np.abs(fake - self.b))),
      'identity_l1': float(np.mean(np.abs(self.a - self.b))),
    }
    self.writer.scalars(step, {f'eval/{k}': v for k, v in metrics.items()})
    return path, metrics

  def final(self, state) -> list[str]:
    del state
    return []
