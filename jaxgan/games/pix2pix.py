"""The pix2pix game (Isola et al. 2017): paired translation A -> B, one G, one conditional D.

G is a U-Net with dropout as its noise; D is a PatchGAN that sees the input
and an output side by side (`concat(a, b)`, 6 channels) with batch norm. The
reference order: D is updated on real pairs and on `stop_gradient` fakes (two
calls, so each has its own batch statistics), then G against the updated D
through the same fakes (one G forward pass, reused with `jax.vjp`), with the
loss `adversarial + l1_weight * |G(a) - b|_1`. Under pmap, BatchNorm
normalises over the devices' batches together (as one device does over the
global batch) and each device draws its own dropout masks.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import games, images, losses, optim, schema
from jaxgan import state as state_lib
from jaxgan.data import pipeline, sources
from jaxgan.errors import ConfigError
from jaxgan.eval import base
from jaxgan.games import _image_to_image as i2i
from jaxgan.models import cyclegan as cg
from jaxgan.state import GANState

ConfigDict = ml_collections.ConfigDict

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Settings:
  """The static settings of the pix2pix step, built once from `config.loss`.

  Attributes:
    loss: adversarial loss name (the reference: 'non_saturating', its 'vanilla').
    l1_weight: weight of `|G(a) - b|_1` (reference 100).
    d_weight: D's loss factor (the reference halves it to slow D down).
  """

  loss: str = 'non_saturating'
  l1_weight: float = 100.0
  d_weight: float = 0.5

  @classmethod
  def from_config(cls, config: ConfigDict) -> 'Settings':
    return cls(config.loss.name, config.loss.l1_weight, config.loss.d_weight)


def train_step(
  state: GANState,
  batch: dict[str, Array],
  *,
  settings: Settings = Settings(),
  axis_name: str | None = None,
) -> tuple[GANState, dict[str, Array]]:
  """One D update, then one G update against the updated D.

  Args:
    state: the game.
    batch: `{'a': [B, H, W, C], 'b': [B, H, W, C]}`, paired.
    settings: the step's static settings (`Settings`).
    axis_name: the pmap axis (gradients and metrics are averaged over it).
  """
  loss, l1_weight, d_weight = settings.loss, settings.l1_weight, settings.d_weight
  adversarial = losses.get_adversarial_loss(loss)
  if adversarial.g_needs_real:
    raise ValueError(f'the pix2pix step does not support {loss!r}')
  a, b = batch['a'], batch['b']
  dropout_rng = state.step_key()
  if axis_name is not None:  # each device's examples get their own masks
    dropout_rng = jax.random.fold_in(dropout_rng, jax.lax.axis_index(axis_name))
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
  d, d_metrics = state_lib.apply_update(
    d, d_grads, d_collections, d_metrics, name='d', axis_name=axis_name
  )

  def g_loss_fn(fake_b):
    logits, _ = d.apply(d.params, jnp.concatenate([a, fake_b], -1), train=True)
    logits = logits.reshape(-1)
    adv = jnp.mean(adversarial.g(logits, logits))
    l1 = jnp.mean(losses.l1_per_example(fake_b, b))
    return adv + l1_weight * l1, {'g_adv': adv, 'l1': l1}

  (g_loss, g_metrics), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake_b)
  (g_grads,) = g_vjp(d_fake)
  g, g_metrics = state_lib.apply_update(
    state.g, g_grads, g_collections, {**g_metrics, 'g_loss': g_loss}, name='g', axis_name=axis_name
  )
  return state.replace(step=state.step + 1, g=g, d=d), {**d_metrics, **g_metrics}


DIRECTIONS = ('AtoB', 'BtoA')


def translate(state: GANState, a: Array) -> Array:
  """G(a) in inference mode (running statistics, no dropout)."""
  return state.g.apply(state.g.params, a, train=False)[0]


# --- the pix2pix game for the trainer ---


def base_config() -> ConfigDict:
  """pix2pix with the reference defaults (U-Net-256 G, 70x70 PatchGAN on (A, B), L1 x 100)."""
  config = i2i.base_config('pix2pix')
  config.model.num_downs = 8
  config.model.dropout = 0.5
  # A folder with train/ (and test/ or val/); TFDS: two image features per record
  # (key_a, key_b), or one A|B image (key_b empty).
  config.data.key_a = 'image'
  config.data.key_b = ''
  config.data.train_split = 'train'
  config.data.test_split = 'test'  # '' for none: samples then come from train pairs
  config.data.direction = 'AtoB'  # or 'BtoA': train B -> A (e.g. facades labels -> photos)

  config.loss = ConfigDict()
  config.loss.name = 'non_saturating'  # the reference's 'vanilla'
  config.loss.l1_weight = 100.0
  config.loss.d_weight = 0.5
  return config


def _sources(data) -> dict[str, sources.Source]:
  """'train' and 'test' paired sources; records `{'a': input, 'b': target}`."""
  found = _stored_pairs(data)
  if data.direction == 'AtoB':
    return found

  def swapped(source: sources.Source) -> sources.Source:
    def read(i: int) -> sources.Record:
      record = source.read(i)
      return {'a': record['b'], 'b': record['a']}

    return dataclasses.replace(source, read=read, description=source.description + ', B -> A')

  return {role: swapped(source) for role, source in found.items()}


def _stored_pairs(data) -> dict[str, sources.Source]:
  """The pairs as stored (A, B), before `config.data.direction`."""
  if data.source == 'digits_mapping':
    arrays = sources.digits_unpaired(data.load_size)
    pair = lambda a: {'a': a, 'b': sources.known_mapping(a)}
    train = np.concatenate([arrays['train_a'], sources.inverse_known_mapping(arrays['train_b'])])
    return {
      'train': sources.array_source(pair(train), 'paired digits'),
      'test': sources.array_source(pair(arrays['test_a']), 'held-out paired digits'),
    }
  if data.source == 'folder':
    return sources.paired_folders(
      data.path, data.load_size, data.channels, skip_bad=data.skip_bad_files
    )
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


class _HeldOut:
  """Every held-out pair (A, B), centre-cropped, and G's translations of the A side."""

  def __init__(self, config, outputs: base.Outputs):
    self.outputs = outputs
    found = _sources(config.data)
    test = found.get('test', found['train'])
    pairs = test.take(range(test.num_records))
    self.a, self.b = (base.centre_crop(pairs[k], config.data.size) for k in ('a', 'b'))
    self._translate = jax.jit(translate)

  def run(self, state) -> np.ndarray:
    return self.outputs.dp.apply_in_chunks(self._translate, state, self.a)


class PairGrid(base.Evaluator):
  """Rows of input A | G(A) | target B on the first `config.eval.num_samples` held-out pairs."""

  def __init__(self, config, held_out: _HeldOut):
    self.every, self.held_out, self.n = config.train.sample_every, held_out, config.eval.num_samples

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    h, n = self.held_out, self.n
    a, b = h.a[:n], h.b[:n]
    fake = h.outputs.dp.apply_in_chunks(h._translate, state, a)
    grid = images.make_grid(np.stack([a, fake, b], 1).reshape(-1, *a.shape[1:]), ncol=3)
    h.outputs.image(base.grid_name(step, final), grid, step)
    return {}


class TestL1(base.Evaluator):
  """Mean |G(A) - B| over every held-out pair, beside the identity map's |A - B|."""

  def __init__(self, config, held_out: _HeldOut):
    self.every, self.held_out = schema.eval_every(config), held_out

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    del step, final
    h = self.held_out
    return {
      'test_l1': float(np.mean(np.abs(h.run(state) - h.b))),
      'identity_l1': float(np.mean(np.abs(h.a - h.b))),
    }


class Pix2Pix(games.Game):
  name = 'pix2pix'
  models = ('pix2pix',)
  entry_point = 'jaxgan.experiments.pix2pix'
  progress_metrics = ('d_loss', 'g_loss', 'l1')

  def smoke(self, config):
    config.model.num_downs = min(config.model.num_downs, 5)  # the U-Net halves the size each
    return i2i.smoke(config)

  def validate(self, config) -> None:
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
    if losses.get_adversarial_loss(config.loss.name).equilibrium:
      raise ConfigError(
        f"config.loss.name={config.loss.name!r} needs an auto-encoder D (config.game='gan')"
      )

  def create_state(self, config, *, axis_name: str | None = None) -> GANState:
    m, dtype = config.model, state_lib.compute_dtype(config)
    g = cg.UnetGenerator(
      features=m.features,
      num_downs=m.num_downs,
      channels_out=m.channels,
      dropout=m.dropout,
      conv_impl=m.conv_impl,
      dtype=dtype,
      bn_axis_name=axis_name,
    )
    d = cg.PatchDiscriminator(
      features=m.d_features,
      num_layers=m.d_layers,
      norm='batch',
      conv_impl=m.conv_impl,
      dtype=dtype,
      bn_axis_name=axis_name,
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

  def step_fn(self, config):
    return functools.partial(train_step, settings=Settings.from_config(config))

  def create_batches(self, config, *, process_index: int = 0, process_count: int = 1):
    data = config.data
    return pipeline.PairedBatches(
      _sources(data)['train'],
      seed=config.seed,
      crop_size=data.size,
      random_flip=data.random_flip,
      **pipeline.loader_options(data, config.train.batch_size, process_index, process_count),
    )

  def create_evaluators(self, config, outputs: base.Outputs) -> list:
    held_out = _HeldOut(config, outputs)
    return [PairGrid(config, held_out), TestL1(config, held_out)]

  def translate(self, state, x, direction: str):
    if direction != 'ab':
      raise ConfigError(
        'a pix2pix run translates one way only (its config.data.direction): use --direction=ab'
      )
    return translate(state, x)


GAME = Pix2Pix()
