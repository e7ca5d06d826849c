"""The unconditional GAN game: G maps noise to data, D tells data from G's samples.

Models: DCGAN (images) and the 2-D MLP pair (Gaussian mixtures), from
`jaxgan.models`. The step is `steps.train_step` (n_critic D updates, then
one G update against the updated D, or with `loss.simultaneous` against D as
it was before them; penalties, EMA of G). Evaluators: the
sample grid of a fixed latent batch (a scatter plot for 2-D data) with a
latent interpolation strip at the end, and, on 2-D mixtures, mode coverage.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from ml_collections import config_dict

from jaxgan import conditional, games, images, losses, models, optim, schema, steps
from jaxgan import state as state_lib
from jaxgan.data import pipeline, toy2d
from jaxgan.errors import ConfigError
from jaxgan.eval import base, evaluators, quality
from jaxgan.eval.options import is_2d

ConfigDict = ml_collections.ConfigDict


def dcgan_config() -> ConfigDict:
  """DCGAN (Radford et al. 2016) with the reference hyperparameters."""
  config = schema.base()
  config.game = 'gan'
  size = config_dict.FieldReference(64)
  channels = config_dict.FieldReference(3)
  config.model = ConfigDict()
  config.model.name = 'dcgan'
  config.model.size = size
  config.model.channels = channels
  config.model.width = 64
  config.model.latent_dim = 100
  config.model.g_conv_impl = 'fast'
  config.model.d_conv_impl = 'fast'
  config.model.d_norm = 'batch'  # D's normalisation: batch | spectral | none
  # Conditional GAN: class ids from the data's labels (num_classes) or vectors (cond_dim,
  # batch['cond']); D conditions by projection or predicts the class (acgan).
  config.model.num_classes = 0
  config.model.cond_dim = 0
  config.model.d_cond = 'projection'  # projection | acgan
  config.model.pack = 1  # PacGAN: D judges this many images jointly (stacked on channels)
  config.model.mbstd_group = 0  # minibatch stddev channel over groups of this size; 0: off
  # D's architecture: 'dcgan' (a classifier) or 'autoencoder' (BEGAN's: its outputs are
  # reconstruction errors; with config.loss.name='began'), with a d_embed-wide code.
  config.model.d_arch = 'dcgan'
  config.model.d_embed = 64
  config.loss.began_gamma = 0.5  # BEGAN's diversity ratio E[L(G(z))] / E[L(x)]
  config.loss.began_lambda_k = 0.001  # BEGAN's learning rate of k_t
  config.loss.simultaneous = False  # G against D before this step's D update (n_critic 1)

  config.data = schema.image_data(size, channels)
  return config


def biggan_config() -> ConfigDict:
  """BigGAN (Brock et al. 2019) with StudioGAN's CIFAR-10 settings: hinge loss, 5 D steps per G
  step, Adam 2e-4 with betas (0.5, 0.999), G's EMA 0.9999 from G's 1,000th update, spectral
  norm in G and D, self-attention at 16x16, a shared class embedding and hierarchical latents."""
  config = dcgan_config()
  size, channels = config.data.get_ref('size'), config.data.get_ref('channels')
  config.model = ConfigDict()
  config.model.name = 'biggan'
  config.model.size = size
  config.model.channels = channels
  config.model.width = 96
  config.model.latent_dim = 80
  config.model.shared_dim = 128
  config.model.num_classes = 10
  config.model.attention_res = 16  # 0: no self-attention
  config.model.attention_pool = True
  config.model.conv_impl = 'xla'
  size.set(32)
  config.loss.name = 'hinge'
  config.loss.n_critic = 5
  config.loss.g_ortho = 0.0  # BigGAN's orthogonal regularisation of G (paper: 1e-4)
  config.optimizer = ConfigDict({'g': schema.adam(2e-4, 0.5), 'd': schema.adam(2e-4, 0.5)})
  config.train.batch_size = 64 * 5  # 64 per D step
  config.train.ema_decay = 0.9999
  config.train.ema_start = 1000
  return config


def toy2d_config() -> ConfigDict:
  """MLP GAN on a 2-D Gaussian mixture."""
  config = schema.base()
  config.game = 'gan'
  config.model = ConfigDict()
  config.model.name = 'mlp'
  config.model.data_dim = 2
  config.model.latent_dim = 2
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.d_hidden = (200, 200, 200)
  config.model.g_batchnorm = True
  # G's BatchNorm: 0: Flax's over the batch; k >= 1: PacGAN's code's, per k slots (mlp.py)
  config.model.g_bn_groups = 0
  config.model.init_std = 0.0  # > 0: dense weights N(0, init_std^2) (PacGAN's code: 0.02)
  config.model.pack = 1  # PacGAN: D judges this many samples jointly
  config.model.d_maxout = 0  # pieces of D's maxout units (PacGAN's D: 5); 0: LeakyReLU
  config.model.mbstd_group = 0  # minibatch stddev feature over groups of this size; 0: off

  config.data = ConfigDict()
  config.data.source = 'toy2d'
  config.data.name = 'ring'
  # > 0: a fixed training set of this many points (tuples of `pack`), reshuffled every epoch
  # (PacGAN's code: 100,000); 0: fresh samples every batch
  config.data.num_examples = 0
  config.data.num_threads = 1
  config.data.prefetch = 2
  config.data.workers = 0

  config.optimizer = ConfigDict({'g': schema.adam(1e-4, 0.8), 'd': schema.adam(1e-4, 0.8)})
  config.loss.simultaneous = False  # G against D before this step's D update (n_critic 1)
  config.train.batch_size = 100
  config.train.num_steps = 20_000
  config.train.log_every = 100
  config.train.sample_every = 5000
  config.train.checkpoint_every = 5000
  config.train.use_ema = False
  config.eval.num_samples = 2500
  return config


def _smoke_dcgan(model: ConfigDict) -> None:
  model.width, model.latent_dim = 8, 16
  if model.size > 32:
    model.size = 32


def _smoke_mlp(model: ConfigDict) -> None:
  model.g_hidden, model.d_hidden = (32, 32), (32, 32)


def _smoke_biggan(model: ConfigDict) -> None:
  model.width, model.shared_dim, model.size = 8, 8, 32
  model.latent_dim = 8  # a multiple of the 4 chunks at 32x32
  model.attention_res = 16


def _smoke_unrolled(model: ConfigDict) -> None:
  model.g_widths, model.latent_dim = (8, 8, 4, 4), 16


SMOKE_MODELS = {
  'dcgan': _smoke_dcgan,
  'mlp': _smoke_mlp,
  'biggan': _smoke_biggan,
  'unrolled': _smoke_unrolled,
}


def step_settings(config: ConfigDict) -> steps.Settings:
  """The settings of `steps.train_step` for this config (keys added later read as before)."""
  loss = config.loss
  try:
    return steps.Settings(
      loss=loss.name,
      n_critic=loss.n_critic,
      gp_weight=loss.gp_weight,
      r1_gamma=loss.r1_gamma,
      r2_gamma=loss.r2_gamma,
      d_joint=loss.d_joint,
      unroll=loss.get('unroll', 0),
      diffaug=loss.get('diffaug', ''),
      r1_every=loss.get('r1_every', 1),
      conditional=is_conditional(config),
      aux_weight=loss.get('aux_weight', 1.0),
      began_gamma=loss.get('began_gamma', 0.5),
      began_lambda_k=loss.get('began_lambda_k', 0.001),
      ema_decay=config.train.ema_decay if config.train.use_ema else None,
      g_ortho=loss.get('g_ortho', 0.0),
      ema_start=config.train.get('ema_start', 0),
      simultaneous=loss.get('simultaneous', False),
    )
  except ValueError as e:
    raise ConfigError(f'config.loss: {e}') from e


def is_began(config: ConfigDict) -> bool:
  return losses.get_adversarial_loss(config.loss.name).equilibrium


def is_conditional(config: ConfigDict) -> bool:
  return bool(config.model.get('num_classes', 0) or config.model.get('cond_dim', 0))


def example_condition(config: ConfigDict, n: int = 1) -> list:
  """`[cond]` of `n` examples for a conditional model (zeros of the right kind), else `[]`."""
  if config.model.get('num_classes', 0):
    return [jnp.zeros((n,), jnp.int32)]
  if config.model.get('cond_dim', 0):
    return [jnp.zeros((n, config.model.cond_dim), jnp.float32)]
  return []


def class_rows(num_classes: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Latents and labels of a grid with one row per class, the same latent in each column."""
  cols = len(z)
  return np.tile(z, (num_classes, 1)), np.repeat(np.arange(num_classes, dtype=np.int32), cols)


def example_shape(config: ConfigDict) -> tuple[int, ...]:
  """Shape of one real example."""
  if config.data.source == 'toy2d':
    return (config.model.data_dim,)
  return (config.data.size, config.data.size, config.data.channels)


class SampleGrid(base.Evaluator):
  """Samples of a fixed latent batch: a grid (images) or a scatter plot (2-D points).

  The final call also writes `samples/interpolation.png`: slerp rows between
  random latents (images only).
  """

  def __init__(self, config: ConfigDict, outputs: base.Outputs, game: 'GAN'):
    self.every = config.train.sample_every
    self.config, self.outputs, self.game = config, outputs, game
    self.rng = jax.random.fold_in(jax.random.key(config.seed), 0x5EED)
    # A fixed latent batch: grids are comparable across steps and across a resume.
    self.z = jax.random.normal(self.rng, (config.eval.num_samples, config.model.latent_dim))
    self.means = toy2d.get_mixture(config.data.name).means if is_2d(config) else None
    self.num_classes = config.model.get('num_classes', 0)
    self._generate = quality.jitted_generate(game)  # shared: one compilation for all seeds

  def samples(self, state, z, cond=None) -> np.ndarray:
    """G's outputs for latents `z` (and conditions), from the logical (unplaced) `state`."""
    dp = self.outputs.dp
    cond = None if cond is None else dp.replicate(np.asarray(cond))
    return dp.fetch(self._generate(state, dp.replicate(np.asarray(z)), cond=cond))

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    if self.num_classes:  # one row per class, the same latents in each column
      cols = max(1, min(10, len(self.z) // self.num_classes))
      z, labels = class_rows(self.num_classes, np.asarray(self.z[:cols]))
      image = images.make_grid(self.samples(state, z, labels), ncol=cols)
      self.outputs.image(base.grid_name(step, final), image, step)
      return {}
    samples = self.samples(state, self.z)
    if self.means is not None:
      image = images.render_points(samples, self.means)
    else:
      image = images.make_grid(samples)
    self.outputs.image(base.grid_name(step, final), image, step)
    if final and self.means is None and not is_conditional(self.config):
      self.interpolation(state, jax.random.fold_in(self.rng, 1), step)
    return {}

  def interpolation(self, state, rng, step: int) -> str:
    rows, cols = self.config.eval.interpolation_rows, self.config.eval.interpolation_steps
    ends = np.asarray(jax.random.normal(rng, (2, rows, *state.latent_shape)))
    z = images.slerp(ends[0], ends[1], np.linspace(0.0, 1.0, cols)).reshape(rows * cols, -1)
    grid = images.make_grid(self.samples(state, z), ncol=cols)
    return self.outputs.image('interpolation', grid, step, tag='interpolation')


class ModeCoverage(base.Evaluator):
  """PacGAN's mode-coverage metrics of `config.eval.num_samples` samples of a 2-D mixture."""

  def __init__(self, config: ConfigDict, grid: SampleGrid):
    self.every = schema.eval_every(config)
    self.grid = grid
    self.mixture = toy2d.get_mixture(config.data.name)

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    del step, final
    return toy2d.mode_coverage(self.mixture, self.grid.samples(state, self.grid.z))


class GAN(games.Game):
  name = 'gan'
  models = ('dcgan', 'mlp', 'biggan', 'unrolled')
  entry_point = 'jaxgan.experiments.dcgan'
  keeps_ema = True

  def smoke(self, config: ConfigDict) -> ConfigDict:
    shrink = SMOKE_MODELS.get(config.model.name)
    if shrink is not None:
      shrink(config.model)
    return config

  def validate(self, config: ConfigDict) -> None:
    step_settings(config)
    began = is_began(config)
    if began != (config.model.get('d_arch', 'dcgan') == 'autoencoder'):
      raise ConfigError(
        "BEGAN is config.loss.name='began' with config.model.d_arch='autoencoder': set both "
        f'(got loss {config.loss.name!r}, d_arch {config.model.get("d_arch", "dcgan")!r})'
      )
    if began and config.loss.began_gamma <= 0:
      raise ConfigError(f'config.loss.began_gamma={config.loss.began_gamma} must be > 0')
    if is_conditional(config):
      if config.model.name not in ('dcgan', 'biggan'):
        raise ConfigError(
          f'config.model.name={config.model.name!r} is unconditional: use dcgan or biggan'
        )
      if config.model.name == 'biggan' and config.model.get('cond_dim', 0):
        raise ConfigError('BigGAN conditions on class ids: set config.model.num_classes')
      if config.model.get('pack', 1) > 1:
        raise ConfigError('config.model.pack > 1 and a conditional GAN do not combine: set pack=1')

    pack = config.model.get('pack', 1)
    d_batch = config.train.batch_size // config.loss.n_critic
    if d_batch % pack:
      raise ConfigError(
        f'config.model.pack={pack} must divide the D batch (config.train.batch_size / '
        f'config.loss.n_critic = {d_batch})'
      )
    groups = config.model.get('g_bn_groups', 0)
    if groups and d_batch % groups:
      raise ConfigError(
        f'config.model.g_bn_groups={groups} must divide the G batch (config.train.batch_size '
        f'/ config.loss.n_critic = {d_batch})'
      )
    if config.parallel == 'pmap' and config.loss.name == 'relativistic_average':
      raise ConfigError(
        "config.loss.name='relativistic_average' averages logits over the batch; "
        "under config.parallel='pmap' that would be per device: use 'jit'"
      )
    if not is_2d(config) and config.model.name in ('dcgan', 'biggan', 'unrolled'):
      if (config.data.size, config.data.channels) != (config.model.size, config.model.channels):
        raise ConfigError(
          f'config.data (size {config.data.size}, channels '
          f'{config.data.channels}) must match config.model (size '
          f'{config.model.size}, channels {config.model.channels})'
        )

  def create_state(self, config: ConfigDict, *, axis_name: str | None = None) -> state_lib.GANState:
    """The initial game of `config` (deterministic in `config.seed`)."""
    kwargs = {k: v for k, v in config.model.items() if k != 'name'}
    dtype = state_lib.compute_dtype(config)
    try:
      g, d = models.create_models(config.model.name, kwargs, dtype=dtype, bn_axis_name=axis_name)
    except ValueError as e:
      raise ConfigError(str(e)) from e
    latent_dim = config.model.latent_dim
    return state_lib.create_gan_state(
      jax.random.key(config.seed),
      generator=g,
      discriminator=d,
      g_tx=optim.create_optimizer(config.optimizer.g, 'g'),
      d_tx=optim.create_optimizer(config.optimizer.d, 'd'),
      g_inputs=[jnp.zeros((1, latent_dim)), *example_condition(config)],
      d_inputs=[
        jnp.zeros((config.model.get('pack', 1), *example_shape(config))),
        *example_condition(config, config.model.get('pack', 1)),
      ],
      latent_shape=(latent_dim,),
      use_ema=config.train.use_ema,
      extra={'began_k': jnp.zeros((), jnp.float32)} if is_began(config) else None,  # k_0 = 0
    )

  def step_fn(self, config: ConfigDict):
    return functools.partial(steps.train_step, settings=step_settings(config))

  def create_batches(self, config: ConfigDict, *, process_index: int = 0, process_count: int = 1):
    batches = pipeline.create_batches(
      config.data,
      global_batch=config.train.batch_size,
      seed=config.seed,
      process_index=process_index,
      process_count=process_count,
      pack=config.model.get('pack', 1),
    )
    num_classes = config.model.get('num_classes', 0)
    if num_classes:
      found = getattr(getattr(batches, 'source', None), 'num_classes', 0)
      if 'label' not in batches.spec() or not found:
        raise ConfigError(
          f'config.model.num_classes={num_classes} but {config.data.source!r} data has no '
          'class labels: use labelled data or set config.model.num_classes=0'
        )
      if found != num_classes:
        raise ConfigError(
          f'config.model.num_classes={num_classes} but the data has {found} classes: set '
          f'config.model.num_classes={found}'
        )
    return batches

  def create_evaluators(self, config: ConfigDict, outputs: base.Outputs) -> list:
    grid = SampleGrid(config, outputs, self)
    own = [grid, ModeCoverage(config, grid)] if is_2d(config) else [grid]
    return own + evaluators.create_evaluators(config, outputs, self)

  def generate(self, state, z, *, use_ema: bool = True, cond=None):
    return steps.generate(state, z, use_ema=use_ema, cond=cond)

  def truncate(self, z, rng, truncation: float):
    """BigGAN's truncation: components of z beyond `truncation` are redrawn inside it."""
    if not truncation > 0:
      raise ConfigError(f'--truncation={truncation}: give a threshold > 0 (e.g. 0.5)')
    return conditional.resample_beyond(jnp.asarray(z), rng, truncation), {}


GAME = GAN()
