"""The CycleGAN game: two players in one `GANState`, the image pool, the pure step.

G = {g_ab, g_ba} under one Adam, D = {d_a, d_b} under another (as the
reference's optimizer_G over both generators). The order is the reference
recipe's: G is updated first against the current D (adversarial + cycle +
identity losses), then D on real images and on *pooled* fakes of that same
forward pass (`stop_gradient`). The pool of the 50 last fakes per direction
lives in `state.extra`, so a checkpoint resumes bit-exactly. Under pmap every
device queries the pool with the fakes of all devices and the same key, so
the pool stays identical on every device and equal to the one-device pool.
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
from jaxgan.errors import ConfigError, DataError
from jaxgan.eval import base
from jaxgan.games import _image_to_image as i2i
from jaxgan.models import cyclegan as cg
from jaxgan.state import GANState

ConfigDict = ml_collections.ConfigDict

Array = jax.Array
Metrics = dict[str, Array]


def create_pool(size: int, image_shape: tuple[int, ...]) -> dict[str, Array]:
  """An empty history pool: `images [size, *image_shape]` and how many are filled."""
  return {'images': jnp.zeros((size, *image_shape), jnp.float32), 'count': jnp.zeros((), jnp.int32)}


def pool_query(pool: dict[str, Array], fakes: Array, rng: Array) -> tuple[dict, Array]:
  """The reference ImagePool, one image at a time (`lax.scan`), in the jitted step.

  While the pool is not full each fake is stored and returned. Once full, each
  fake is, with probability 1/2, swapped with a random stored one (the stored
  one is returned), else returned as is. A pool of size 0 returns the fakes.

  Args:
    pool: from `create_pool`.
    fakes: `[B, ...]` new generated images.
    rng: key.

  Returns:
    The new pool and the `[B, ...]` images D should see.
  """
  size = pool['images'].shape[0]
  if size == 0:
    return pool, fakes

  def one(carry, inputs):
    images, count = carry
    fake, key = inputs
    coin_key, index_key = jax.random.split(key)
    full = count >= size
    swap = full & (jax.random.uniform(coin_key) < 0.5)
    index = jnp.where(full, jax.random.randint(index_key, (), 0, size), count)
    returned = jnp.where(swap, images[index], fake)
    images = images.at[index].set(jnp.where(full & ~swap, images[index], fake))
    return (images, jnp.minimum(count + 1, size)), returned

  keys = jax.random.split(rng, fakes.shape[0])
  (images, count), returned = jax.lax.scan(one, (pool['images'], pool['count']), (fakes, keys))
  return {'images': images, 'count': count}, returned


def global_pool_query(
  pool: dict[str, Array], fakes: Array, rng: Array, axis_name: str | None
) -> tuple[dict, Array]:
  """`pool_query` over the global batch: under pmap each device gets its slice of the result.

  Every device gathers the fakes of all devices and updates its copy of the
  pool with the same key, so the copies never diverge and match `pool_query`
  on the global batch of one device.
  """
  if axis_name is None:
    return pool_query(pool, fakes, rng)
  n = fakes.shape[0]
  pool, seen = pool_query(pool, jax.lax.all_gather(fakes, axis_name, tiled=True), rng)
  return pool, jax.lax.dynamic_slice_in_dim(seen, jax.lax.axis_index(axis_name) * n, n)


def _patch_loss(fn, real_logits: Array, fake_logits: Array) -> Array:
  """A loss table function on patch logits: every patch is an example."""
  return jnp.mean(fn(real_logits.reshape(-1), fake_logits.reshape(-1)))


@dataclasses.dataclass(frozen=True)
class Settings:
  """The static settings of the CycleGAN step, built once from `config.loss`.

  Attributes:
    loss: adversarial loss name from `losses.ADVERSARIAL_LOSSES` (reference: least squares).
    cycle_weight: weight of `|g_ba(g_ab(a)) - a| + |g_ab(g_ba(b)) - b|` (reference 10).
    identity_weight: identity loss weight as a fraction of `cycle_weight` (reference 0.5):
      `|g_ab(b) - b| + |g_ba(a) - a|`.
    g_adv_weight: weight of G's adversarial terms. The reference's G loss is
      `MSE(D(G(x)), 1)`, twice the LSGAN table's `(f - 1)^2 / 2`: configs set 2.0.
  """

  loss: str = 'least_squares'
  cycle_weight: float = 10.0
  identity_weight: float = 0.5
  g_adv_weight: float = 1.0

  @classmethod
  def from_config(cls, config: ConfigDict) -> 'Settings':
    loss = config.loss
    return cls(loss.name, loss.cycle_weight, loss.identity_weight, loss.g_adv_weight)


def train_step(
  state: GANState,
  batch: dict[str, Array],
  *,
  settings: Settings = Settings(),
  axis_name: str | None = None,
) -> tuple[GANState, Metrics]:
  """One G update, then one D update on pooled fakes.

  Args:
    state: the game; `state.extra` holds `{'pool_a', 'pool_b'}`.
    batch: `{'a': [B, H, W, C], 'b': [B, H, W, C]}`, unpaired.
    settings: the step's static settings (`Settings`).
    axis_name: the pmap axis (gradients and metrics are averaged over it).

  Returns:
    The new state and scalar metrics.
  """
  loss, cycle_weight = settings.loss, settings.cycle_weight
  identity_weight, g_adv_weight = settings.identity_weight, settings.g_adv_weight
  adversarial = losses.get_adversarial_loss(loss)
  if adversarial.g_needs_real:
    raise ValueError(f'the CycleGAN step does not support {loss!r} (G would need real logits)')
  a, b = batch['a'], batch['b']
  g, d = state.g, state.d
  pool_a_rng, pool_b_rng = jax.random.split(state.step_key())
  judge = lambda params, x, which: d.apply(params, x, train=True, method=which)[0]

  def g_loss_fn(params):
    ab = lambda x: g.apply(params, x, train=True, method='ab')[0]
    ba = lambda x: g.apply(params, x, train=True, method='ba')[0]
    fake_b, fake_a = ab(a), ba(b)
    fake_b_logits = judge(d.params, fake_b, 'judge_b')
    fake_a_logits = judge(d.params, fake_a, 'judge_a')
    adv = _patch_loss(adversarial.g, fake_b_logits, fake_b_logits) + _patch_loss(
      adversarial.g, fake_a_logits, fake_a_logits
    )
    cycle = jnp.mean(losses.cycle_consistency_loss(a, ba(fake_b))) + jnp.mean(
      losses.cycle_consistency_loss(b, ab(fake_a))
    )
    total = g_adv_weight * adv + cycle_weight * cycle
    metrics = {'g_adv': adv, 'cycle': cycle}
    if identity_weight:
      identity = jnp.mean(losses.identity_loss(b, ab(b))) + jnp.mean(losses.identity_loss(a, ba(a)))
      total += identity_weight * cycle_weight * identity
      metrics['identity'] = identity
    metrics['g_loss'] = total
    return total, (fake_a, fake_b, metrics)

  g_grads, (fake_a, fake_b, g_metrics) = jax.grad(g_loss_fn, has_aux=True)(g.params)
  g, g_metrics = state_lib.apply_update(
    g, g_grads, g.collections, g_metrics, name='g', axis_name=axis_name
  )

  query = lambda pool, fakes, rng: global_pool_query(
    pool, jax.lax.stop_gradient(fakes), rng, axis_name
  )
  pool_a, seen_a = query(state.extra['pool_a'], fake_a, pool_a_rng)
  pool_b, seen_b = query(state.extra['pool_b'], fake_b, pool_b_rng)

  def d_loss_fn(params):
    d_a = _patch_loss(adversarial.d, judge(params, a, 'judge_a'), judge(params, seen_a, 'judge_a'))
    d_b = _patch_loss(adversarial.d, judge(params, b, 'judge_b'), judge(params, seen_b, 'judge_b'))
    return d_a + d_b, {'d_a': d_a, 'd_b': d_b, 'd_loss': d_a + d_b}

  d_grads, d_metrics = jax.grad(d_loss_fn, has_aux=True)(d.params)
  d, d_metrics = state_lib.apply_update(
    d, d_grads, d.collections, d_metrics, name='d', axis_name=axis_name
  )
  state = state.replace(
    step=state.step + 1, g=g, d=d, extra={**state.extra, 'pool_a': pool_a, 'pool_b': pool_b}
  )
  return state, {**g_metrics, **d_metrics}


def translate(state: GANState, x: Array, direction: str) -> Array:
  """`g_ab(x)` (direction 'ab') or `g_ba(x)` ('ba'), in inference mode."""
  if direction not in ('ab', 'ba'):
    raise ValueError(f"direction must be 'ab' or 'ba'; got {direction!r}")
  return state.g.apply(state.g.params, x, train=False, method=direction)[0]


# --- the CycleGAN game for the trainer: config -> state, step, batches, evaluation ---


def base_config() -> ConfigDict:
  """CycleGAN with the reference defaults (ResNet-9 G, 70x70 PatchGAN, LSGAN, pool 50)."""
  config = i2i.base_config('cyclegan')
  config.model.num_blocks = 9  # 6 at 128x128
  config.data.image_key = 'image'  # a folder with trainA/, trainB/ (testA/, testB/), or TFDS

  config.loss = ConfigDict()
  config.loss.name = 'least_squares'
  config.loss.cycle_weight = 10.0
  config.loss.identity_weight = 0.5  # x cycle_weight
  config.loss.g_adv_weight = 2.0  # the reference's MSE(D(G(x)), 1) = 2 x LSGAN's (f - 1)^2 / 2
  config.loss.pool_size = 50
  return config


def create_models(config) -> tuple[cg.CycleGenerators, cg.CycleDiscriminators]:
  m, dtype = config.model, state_lib.compute_dtype(config)
  gen = lambda: cg.ResnetGenerator(
    features=m.features,
    num_blocks=m.num_blocks,
    channels_out=m.channels,
    conv_impl=m.conv_impl,
    dtype=dtype,
  )
  disc = lambda: cg.PatchDiscriminator(
    features=m.d_features, num_layers=m.d_layers, conv_impl=m.conv_impl, dtype=dtype
  )
  return cg.CycleGenerators(gen(), gen()), cg.CycleDiscriminators(disc(), disc())


def _sources(data) -> dict[str, sources.Source]:
  """trainA/trainB (and testA/testB where they exist) of `config.data`."""
  if data.source == 'digits_mapping':
    arrays = sources.digits_unpaired(data.load_size)
    return {
      'trainA': sources.array_source({'image': arrays['train_a']}, 'digits domain A'),
      'trainB': sources.array_source({'image': arrays['train_b']}, 'digits domain B'),
      'testA': sources.array_source({'image': arrays['test_a']}, 'held-out digits A'),
      'testB': sources.array_source({'image': arrays['test_b_true']}, 'held-out digits B'),
    }
  if data.source == 'folder':
    return sources.unpaired_folders(
      data.path, data.load_size, data.channels, skip_bad=data.skip_bad_files
    )
  if data.source == 'tfds':
    out = {}
    for split in ('trainA', 'trainB', 'testA', 'testB'):
      try:
        out[split] = sources.tfds_source(
          data.name,
          split,
          data.load_size,
          data.channels,
          image_key=data.image_key,
          label_key='',
          data_dir=data.data_dir,
        )
      except DataError:
        if split.startswith('train'):
          raise
    return out
  raise ConfigError(
    f'unknown config.data.source {data.source!r} for CycleGAN; known: digits_mapping, folder, tfds'
  )


class _HeldOut:
  """Held-out images of both domains, centre-cropped, and the jitted translation."""

  def __init__(self, config, outputs: base.Outputs):
    self.outputs = outputs
    self.found, self.size = _sources(config.data), config.data.size
    n = config.eval.num_samples
    self.a = self.take(self.found.get('testA', self.found['trainA']), n)
    self.b = self.take(self.found.get('testB', self.found['trainB']), n)
    self._translate = jax.jit(translate, static_argnames='direction')

  def take(self, source: sources.Source, n: int) -> np.ndarray:
    """The first `n` images of `source`, centre-cropped to the training size."""
    images = source.take(range(min(n, source.num_records)))['image']
    return base.centre_crop(images, self.size)

  def run(self, state, x: np.ndarray, direction: str) -> np.ndarray:
    return self.outputs.dp.apply_in_chunks(self._translate, state, x, direction=direction)


class TranslationGrid(base.Evaluator):
  """Rows of real A | fake B | reconstructed A, then B | fake A | reconstructed B (held out)."""

  def __init__(self, config, held_out: _HeldOut):
    self.every, self.held_out = config.train.sample_every, held_out

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    h = self.held_out
    rows = []
    for x, there, back in ((h.a, 'ab', 'ba'), (h.b, 'ba', 'ab')):
      y = h.run(state, x, there)
      rows += [np.stack(r) for r in zip(x, y, h.run(state, y, back), strict=True)]
    grid = images.make_grid(np.concatenate(rows), ncol=3)
    h.outputs.image(base.grid_name(step, final), grid, step)
    return {}


class MappingError(base.Evaluator):
  """On the embedded known-mapping digits: mean |g_ab(a) - T(a)| on all held-out images.

  Reported next to the error of the identity map (`|a - T(a)|`), and the same
  for `g_ba` against `T^-1`.
  """

  def __init__(self, config, held_out: _HeldOut):
    self.every, self.held_out = schema.eval_every(config), held_out
    test_a = held_out.found['testA']
    self.test_a = held_out.take(test_a, test_a.num_records)
    self.true_b = sources.known_mapping(self.test_a)

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    del step, final
    h, a, b = self.held_out, self.test_a, self.true_b
    return {
      'mapping_error_ab': float(np.mean(np.abs(h.run(state, a, 'ab') - b))),
      'mapping_error_ba': float(np.mean(np.abs(h.run(state, b, 'ba') - a))),
      'identity_error': float(np.mean(np.abs(a - b))),
    }


class CycleGAN(games.Game):
  name = 'cyclegan'
  models = ('cyclegan',)
  entry_point = 'jaxgan.experiments.cyclegan'
  progress_metrics = ('d_loss', 'g_loss', 'cycle')

  def smoke(self, config):
    config.model.num_blocks = 1
    return i2i.smoke(config)

  def validate(self, config) -> None:
    if config.model.name != 'cyclegan':
      raise ConfigError(
        f"config.game='cyclegan' needs config.model.name='cyclegan'; got {config.model.name!r}"
      )
    if config.data.load_size < config.data.size:
      raise ConfigError(
        f'config.data.load_size={config.data.load_size} must be >= the crop '
        f'config.data.size={config.data.size}'
      )
    if config.model.size % 4:
      raise ConfigError(f'config.model.size={config.model.size} must be divisible by 4')
    adversarial = losses.ADVERSARIAL_LOSSES.get(config.loss.name)
    usable = lambda loss: not (loss.g_needs_real or loss.equilibrium)
    if adversarial is None or not usable(adversarial):
      known = sorted(k for k, v in losses.ADVERSARIAL_LOSSES.items() if usable(v))
      raise ConfigError(
        f'config.loss.name={config.loss.name!r} is not usable by CycleGAN; '
        f'known: {", ".join(known)}'
      )

  def create_state(self, config, *, axis_name: str | None = None) -> GANState:
    """The initial CycleGAN game (instance norm: no device axis is needed)."""
    del axis_name
    g, d = create_models(config)
    shape = (config.model.size, config.model.size, config.model.channels)
    x = jnp.zeros((1, *shape))
    return state_lib.create_gan_state(
      jax.random.key(config.seed),
      generator=g,
      discriminator=d,
      g_tx=optim.create_optimizer(config.optimizer.g, 'g'),
      d_tx=optim.create_optimizer(config.optimizer.d, 'd'),
      g_inputs=[x, x],
      d_inputs=[x, x],
      use_ema=False,
      extra={
        'pool_a': create_pool(config.loss.pool_size, shape),
        'pool_b': create_pool(config.loss.pool_size, shape),
      },
    )

  def step_fn(self, config):
    return functools.partial(train_step, settings=Settings.from_config(config))

  def create_batches(self, config, *, process_index: int = 0, process_count: int = 1):
    data = config.data
    found = _sources(data)
    return pipeline.UnpairedBatches(
      found['trainA'],
      found['trainB'],
      seed=config.seed,
      crop_size=data.size,
      random_flip=data.random_flip,
      **pipeline.loader_options(data, config.train.batch_size, process_index, process_count),
    )

  def create_evaluators(self, config, outputs: base.Outputs) -> list:
    held_out = _HeldOut(config, outputs)
    out = [TranslationGrid(config, held_out)]
    if config.data.source == 'digits_mapping':
      out.append(MappingError(config, held_out))
    return out

  def translate(self, state, x, direction: str):
    return translate(state, x, direction)


GAME = CycleGAN()
