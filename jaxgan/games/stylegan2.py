"""The StyleGAN2 game (Karras et al. 2020) with adaptive discriminator augmentation (ADA).

Networks: `jaxgan.models.stylegan2` (mapping + synthesis G, residual D).
Training as the ADA paper's reference: the non-saturating loss; lazy R1 on
the reals every `r1_every` steps and the path-length penalty every
`pl_every` steps, each its own optimizer update scaled by its interval, with
Adam's learning rate and betas adjusted by `interval / (interval + 1)`;
style mixing; G's EMA with a half-life in images and a ramp-up; every image
D sees augmented (ADA's pipeline with p adjusted from the sign of D's real
outputs toward a target, a fixed p, DiffAugment, or none).

The state holds everything a resume needs: ADA's p and its r_t accumulator
(`extra['ada']`), the images seen (`extra['nimg']`), the path-length mean
(`extra['pl_mean']`), and G's `w_avg` (its 'stats' collection, also in the EMA).

One step (`train_step`, pure; phases in the reference's order, each an optimizer update):
  G main: `softplus(-D(aug(G(z))))`.
  G reg (every `pl_every` steps): `pl_weight * pl_every * (|J_w^T y| - pl_mean)^2`.
  D main: `softplus(D(aug(G(z')))) + softplus(-D(aug(x)))`, G after its update.
  D reg (every `r1_every` steps): `r1_gamma / 2 * r1_every * |grad_x D(aug(x))|^2`.
Then p, G's EMA and the image count move on.
"""

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from ml_collections import config_dict

from jaxgan import ada, augment, games, images, schema, xla_cpu
from jaxgan import state as state_lib
from jaxgan.data import pipeline
from jaxgan.errors import ConfigError
from jaxgan.eval import base, evaluators, quality
from jaxgan.models import stylegan2 as sg2
from jaxgan.state import GANState, PlayerState

Array = jax.Array
ConfigDict = ml_collections.ConfigDict
AUGMENTS = ('ada', 'fixed', 'diffaug', 'none')


# ----- the pure step ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
  """The static settings of the StyleGAN2 step, built once from the config (`step_settings`).

  Attributes:
    batch_size: images per step (the global batch): EMA half-life and ADA's speed count images.
    r1_gamma: R1 weight gamma (penalty `gamma / 2 * |grad D(x)|^2` on the reals; 0: off).
    r1_every: lazy R1: its own D update every this many steps.
    pl_weight: path-length regularisation weight (0: off).
    pl_every: lazy path length: its own G update every this many steps.
    pl_decay: the path-length mean's EMA rate.
    pl_batch_shrink: the path-length batch is `batch_size // pl_batch_shrink`.
    style_mixing: probability of mixing two latents' styles at a random layer.
    ema_kimg: G's EMA half-life in thousands of images (0: no EMA update).
    ema_rampup: the half-life is at most `rampup * images seen` (0: no ramp-up).
    augment: 'ada' (adaptive p), 'fixed' (p as set), 'diffaug' (DiffAugment) or 'none'.
    ada_target: ADA's target for r_t = E[sign(D(real))].
    ada_interval: steps between p's adjustments.
    ada_kimg: thousands of images for p to go 0 -> 1.
    ada_pipe: ADA's transforms (`jaxgan.ada.parse_pipe`).
    diffaug: DiffAugment policy when `augment='diffaug'`.
    conditional: G and D take the batch's class labels.
  """

  batch_size: int
  r1_gamma: float = 10.0
  r1_every: int = 16
  pl_weight: float = 2.0
  pl_every: int = 4
  pl_decay: float = 0.01
  pl_batch_shrink: int = 2
  style_mixing: float = 0.9
  ema_kimg: float = 10.0
  ema_rampup: float = 0.0
  augment: str = 'ada'
  ada_target: float = 0.6
  ada_interval: int = 4
  ada_kimg: float = 500.0
  ada_pipe: str = 'bgc'
  diffaug: str = 'color,translation,cutout'
  conditional: bool = False

  def __post_init__(self):
    if self.augment not in AUGMENTS:
      raise ValueError(f'unknown augment {self.augment!r}; known: {", ".join(AUGMENTS)}')
    for name, least in (('r1_every', 1), ('pl_every', 1), ('pl_batch_shrink', 1)):
      if getattr(self, name) < least:
        raise ValueError(f'{name} must be >= {least}; got {getattr(self, name)}')
    if self.batch_size // self.pl_batch_shrink < 1:
      raise ValueError(f'pl_batch_shrink={self.pl_batch_shrink} leaves no path-length batch')
    if not 0.0 <= self.style_mixing <= 1.0:
      raise ValueError(f'style_mixing must be a probability; got {self.style_mixing}')
    if self.augment in ('ada', 'fixed'):
      ada.parse_pipe(self.ada_pipe)
    if self.augment == 'diffaug':
      augment.parse(self.diffaug)


def lazy_adam(
  learning_rate: float, b1: float, b2: float, eps: float, every: int
) -> optax.GradientTransformation:
  """Adam for a player regularised every `every` steps (lazy regularisation).

  Its updates come `(every + 1) / every` times as often as the main loss's, so
  the learning rate and the betas are adjusted by `c = every / (every + 1)`:
  `lr * c`, `b1 ** c`, `b2 ** c` (Karras et al. 2020, appendix B).
  """
  c = every / (every + 1)
  return optax.adam(learning_rate * c, b1=b1**c, b2=b2**c, eps=eps)


def _map(g: PlayerState, params, z: Array, cond: Array | None, *, update_w_avg: bool):
  """`ws [B, num_ws, w_dim]`, and G's collections (w_avg moved when `update_w_avg`)."""
  variables = {'params': params, **g.collections}
  if update_w_avg:
    return g.apply_fn(variables, z, cond, True, method='map', mutable=['stats'])
  return g.apply_fn(variables, z, cond, False, method='map'), {}


def _synthesize(g: PlayerState, params, ws: Array, rng: Array, collections=None) -> Array:
  variables = {'params': params, **(g.collections if collections is None else collections)}
  return g.apply_fn(variables, ws, method='synthesize', rngs={'noise': rng})


def _mix(ws: Array, ws2: Array, rng: Array, prob: float) -> Array:
  """Style mixing: with probability `prob`, `ws2`'s styles from a random layer on (per batch)."""
  if not prob:
    return ws
  num_ws = ws.shape[1]
  cut_rng, use_rng = jax.random.split(rng)
  cutoff = jax.random.randint(cut_rng, (), 1, num_ws)
  cutoff = jnp.where(jax.random.uniform(use_rng) < prob, cutoff, num_ws)
  layer = jnp.arange(num_ws)[None, :, None]
  return jnp.where(layer < cutoff, ws, ws2)


def _generate_train(
  state: GANState, params, z: Array, cond, rng: Array, s: Settings, *, update_w_avg: bool
):
  """G in training mode: mapped (w_avg moved if asked), mixed, synthesised with random noise."""
  z2_rng, mix_rng, noise_rng = jax.random.split(rng, 3)
  ws, collections = _map(state.g, params, z, cond, update_w_avg=update_w_avg)
  if s.style_mixing:
    z2 = jax.random.normal(z2_rng, z.shape)
    ws2, _ = _map(state.g, params, z2, cond, update_w_avg=False)
    ws = _mix(ws, ws2, mix_rng, s.style_mixing)
  return _synthesize(state.g, params, ws, noise_rng), ws, collections


def _see(x: Array, rng: Array, p: Array, s: Settings) -> Array:
  """What D sees of images `x`: augmented as `s.augment` says."""
  if s.augment in ('ada', 'fixed'):
    return ada.augment(x, rng, p, pipe=s.ada_pipe)
  if s.augment == 'diffaug':
    return augment.diff_augment(x, rng, s.diffaug)
  return x


def _d(state: GANState, params, x: Array, cond) -> Array:
  return state.d.apply_fn({'params': params, **state.d.collections}, x, cond, True)


def path_lengths(synthesize, ws: Array, noise: Array) -> Array:
  """`|J_w^T y|` per example: the path lengths of the path-length regulariser.

  Args:
    synthesize: `ws [B, num_ws, w_dim] -> images [B, H, W, C]`.
    ws: the styles.
    noise: `y`, `[B, H, W, C]` (normal / sqrt(H W) in training).

  Returns:
    `[B]`: `sqrt(mean over layers of |d(sum images * y) / d ws|^2)`.
  """
  grads = jax.grad(lambda w: jnp.sum(synthesize(w) * noise))(ws)
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))


def path_length_penalty(lengths: Array, pl_mean: Array, *, decay: float) -> tuple[Array, Array]:
  """`(mean((lengths - m)^2), m)` with `m = pl_mean + decay (mean(lengths) - pl_mean)`."""
  new_mean = pl_mean + decay * (jnp.mean(jax.lax.stop_gradient(lengths)) - pl_mean)
  return jnp.mean(jnp.square(lengths - new_mean)), new_mean


def _g_main(state, batch, rng, s: Settings, p: Array):
  real = batch['image']
  cond = batch.get('label') if s.conditional else None
  z_rng, g_rng, aug_rng = jax.random.split(rng, 3)
  z = jax.random.normal(z_rng, (real.shape[0], *state.latent_shape))

  def loss_fn(params):
    fake, _, collections = _generate_train(state, params, z, cond, g_rng, s, update_w_avg=True)
    logits = _d(state, state.d.params, _see(fake, aug_rng, p, s), cond)
    return jnp.mean(jax.nn.softplus(-logits)), collections

  (loss, collections), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.g.params)
  g, metrics = state_lib.apply_update(
    state.g, grads, {**state.g.collections, **collections}, {'g_loss': loss}, name='g'
  )
  return state.replace(g=g), metrics


def _g_reg(state, batch, rng, s: Settings):
  """The lazy path-length update of G (an `xla_cpu.cond` branch): `(state, penalty)`."""
  n = max(batch['image'].shape[0] // s.pl_batch_shrink, 1)
  cond = batch['label'][:n] if s.conditional else None
  z_rng, g_rng, y_rng = jax.random.split(rng, 3)
  z = jax.random.normal(z_rng, (n, *state.latent_shape))

  def loss_fn(params):
    ws, _ = _map(state.g, params, z, cond, update_w_avg=False)
    mix_rng, noise_rng = jax.random.split(g_rng)
    if s.style_mixing:
      ws2, _ = _map(state.g, params, jax.random.normal(mix_rng, z.shape), cond, update_w_avg=False)
      ws = _mix(ws, ws2, jax.random.fold_in(mix_rng, 1), s.style_mixing)
    synth = lambda w: _synthesize(state.g, params, w, noise_rng)
    shape = jax.eval_shape(synth, ws).shape
    y = jax.random.normal(y_rng, shape) / math.sqrt(shape[1] * shape[2])
    penalty, new_mean = path_length_penalty(
      path_lengths(synth, ws, y), state.extra['pl_mean'], decay=s.pl_decay
    )
    return penalty * s.pl_weight * s.pl_every, (penalty, new_mean)

  grads, (penalty, new_mean) = jax.grad(loss_fn, has_aux=True)(state.g.params)
  g = state.g.apply_gradients(grads, state.g.collections)
  return state.replace(g=g, extra={**state.extra, 'pl_mean': new_mean}), penalty


def _d_main(state, batch, rng, s: Settings, p: Array):
  real = batch['image']
  cond = batch.get('label') if s.conditional else None
  z_rng, g_rng, fake_rng, real_rng = jax.random.split(rng, 4)
  z = jax.random.normal(z_rng, (real.shape[0], *state.latent_shape))
  fake, _, _ = _generate_train(state, state.g.params, z, cond, g_rng, s, update_w_avg=False)
  fake = jax.lax.stop_gradient(fake)

  def loss_fn(params):
    fake_logits = _d(state, params, _see(fake, fake_rng, p, s), cond)
    real_logits = _d(state, params, _see(real, real_rng, p, s), cond)
    loss = jnp.mean(jax.nn.softplus(fake_logits)) + jnp.mean(jax.nn.softplus(-real_logits))
    return loss, (fake_logits, real_logits)

  (loss, (fake_logits, real_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
    state.d.params
  )
  metrics = {
    'd_loss': loss,
    'd_real_logit': jnp.mean(real_logits),
    'd_fake_logit': jnp.mean(fake_logits),
  }
  d, metrics = state_lib.apply_update(state.d, grads, state.d.collections, metrics, name='d')
  return state.replace(d=d), metrics, real_logits


def _d_reg(state, batch, rng, s: Settings, p: Array):
  """The lazy R1 update of D (an `xla_cpu.cond` branch): `(state, R1 penalty)`."""
  real = batch['image']
  cond = batch.get('label') if s.conditional else None

  def loss_fn(params):
    critic = lambda x: jnp.sum(_d(state, params, _see(x, rng, p, s), cond))
    grads = jax.grad(critic)(real)
    r1 = jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))
    return 0.5 * s.r1_gamma * s.r1_every * r1, r1

  grads, r1 = jax.grad(loss_fn, has_aux=True)(state.d.params)
  return state.replace(d=state.d.apply_gradients(grads, state.d.collections)), r1


def ema_beta(nimg: Array, *, batch_size: int, ema_kimg: float, rampup: float) -> Array:
  """G's EMA decay after `nimg` images: `0.5 ** (batch / half-life)`, the half-life
  `ema_kimg * 1000` images, at most `rampup * nimg` when `rampup > 0`."""
  half_life = jnp.asarray(ema_kimg * 1000.0, jnp.float32)
  if rampup:
    half_life = jnp.minimum(half_life, nimg.astype(jnp.float32) * rampup)
  return 0.5 ** (batch_size / jnp.maximum(half_life, 1e-8))


def lazy_phase(settings: Settings, index: int) -> tuple[bool, bool]:
  """`(path length, R1)`: the lazy regularisers the update at state step `index` runs."""
  s = settings
  return bool(s.pl_weight) and index % s.pl_every == 0, bool(s.r1_gamma) and index % s.r1_every == 0


def train_step(
  state: GANState,
  batch: dict[str, Array],
  *,
  settings: Settings,
  phase: tuple[bool, bool] | None = None,
  axis_name: str | None = None,
) -> tuple[GANState, dict[str, Array]]:
  """One StyleGAN2 iteration: G main, lazy G reg, D main, lazy D reg; then p, EMA, images seen.

  Args:
    state: the game; `extra` holds 'ada' (`jaxgan.ada.AdaState`), 'pl_mean', 'nimg'.
    batch: `{'image': [B, H, W, C]}` (and 'label' `[B]` when conditional).
    settings: the step's settings.
    phase: `lazy_phase(settings, state.step)`, known on the host: the step runs the lazy
      regularisers it names and nothing of the others (the trainer compiles one step per
      phase). None: the step decides from `state.step` on the device (`xla_cpu.cond`).
    axis_name: must be None (the game trains under `jit`, which partitions the batch).

  Returns:
    The new state and scalar metrics.
  """
  if axis_name is not None:
    raise ValueError("the StyleGAN2 step runs under config.parallel='jit'")
  s = settings
  keys = jax.random.split(state.step_key(), 4)
  p = state.extra['ada'].p
  state, metrics = _g_main(state, batch, keys[0], s, p)
  skip = lambda st: (st, jnp.zeros((), jnp.float32))

  def lazy(on: bool | None, every: int, reg: Callable, state):
    if on is None:
      return xla_cpu.cond(state.step % every == 0, reg, skip, state)
    return reg(state) if on else skip(state)

  pl_on, r1_on = (None, None) if phase is None else phase
  if s.pl_weight:  # off: not even traced
    state, metrics['pl_penalty'] = lazy(
      pl_on, s.pl_every, lambda st: _g_reg(st, batch, keys[1], s), state
    )
  state, d_metrics, real_logits = _d_main(state, batch, keys[2], s, p)
  if s.r1_gamma:
    state, d_metrics['r1'] = lazy(
      r1_on, s.r1_every, lambda st: _d_reg(st, batch, keys[3], s, p), state
    )
  extra = dict(state.extra)
  if s.augment == 'ada':
    extra['ada'] = ada.ada_step(
      extra['ada'], real_logits, target=s.ada_target, interval=s.ada_interval, speed_kimg=s.ada_kimg
    )
  ema = state.ema
  if ema is not None and s.ema_kimg:
    beta = ema_beta(
      extra['nimg'], batch_size=s.batch_size, ema_kimg=s.ema_kimg, rampup=s.ema_rampup
    )
    params = jax.tree.map(lambda e, g: g + beta * (e - g), ema['params'], state.g.params)
    ema = {**state.g.collections, 'params': params}  # w_avg and the fixed noise: copied
  extra['nimg'] = extra['nimg'] + s.batch_size
  metrics.update(d_metrics)
  metrics.update(
    ada_p=extra['ada'].p,
    ada_rt=ada.ada_stats(real_logits),
    pl_mean=extra['pl_mean'],
    kimg=extra['nimg'].astype(jnp.float32) / 1000.0,
  )
  return state.replace(step=state.step + 1, ema=ema, extra=extra), metrics


# ----- sampling and inspection ------------------------------------------------------------------

# Named spans of `sample --mixing_layers`, in style indices (StyleGAN's numbering, two per
# resolution from 4x4: 0-3 are 4x4-8x8, 4-7 16x16-32x32, 8 on 64x64 and up).
MIXING_SPANS = {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, None)}


def _variables(state: GANState, use_ema: bool):
  return state.ema if use_ema and state.ema is not None else state.g.variables


def _styles(state: GANState, variables, z: Array, cond, truncation) -> Array:
  """`ws [n, num_ws, w_dim]` of latents `z`, truncated toward `w_avg` by psi `truncation`."""
  return state.g.apply_fn(variables, z, cond, False, method='map', truncation_psi=truncation)


def _render(state: GANState, variables, ws: Array, noise_mode: str, noise_key) -> Array:
  """G's synthesis of `ws` with `noise_mode`'s noise ('random' draws it from `noise_key`)."""
  if noise_mode == 'random' and noise_key is None:
    raise ValueError("noise_mode='random' needs a noise_key")
  rngs = {'noise': noise_key} if noise_mode == 'random' else None
  return state.g.apply_fn(variables, ws, method='synthesize', noise_mode=noise_mode, rngs=rngs)


def generate(
  state: GANState,
  z: Array,
  *,
  use_ema: bool = True,
  cond: Array | None = None,
  truncation: float | Array = 1.0,
  noise_mode: str = 'const',
  noise_key: Array | None = None,
  lerp_to: Array | None = None,
  lerp_t: Array | None = None,
) -> Array:
  """Images `[n, H, W, C]` of latents `z [n, z_dim]`: the EMA G's by default, styles truncated
  toward `w_avg` by `truncation` (psi; 1: none).

  Args:
    state: the game.
    z: latents `[n, z_dim]`.
    use_ema: the EMA generator when the run kept one.
    cond: class ids `[n]` of a conditional G.
    truncation: psi.
    noise_mode: 'const' (G's fixed noise images, drawn at init from `config.seed`: the same
      for every image), 'random' (drawn per image and layer from `noise_key`) or 'none'.
    noise_key: the key of 'random' noise.
    lerp_to: latents `[n, z_dim]`: interpolation in W, each image's styles
      `(1 - t) w(z) + t w(lerp_to)` with `t = lerp_t [n]` (the endpoints exact).
    lerp_t: the fractions of `lerp_to`.
  """
  variables = _variables(state, use_ema)
  ws = _styles(state, variables, z, cond, truncation)
  if lerp_to is not None:
    t = jnp.asarray(lerp_t, ws.dtype)[:, None, None]
    ws = (1 - t) * ws + t * _styles(state, variables, lerp_to, cond, truncation)
  return _render(state, variables, ws, noise_mode, noise_key)


def mixing_layers(spec: str, num_ws: int) -> tuple[int, int]:
  """The style indices `[start, stop)` that `sample --mixing_layers=SPEC` takes from the rows.

  SPEC: 'coarse' (4x4-8x8: 0:4), 'middle' (16x16-32x32: 4:8), 'fine' (64x64 and up: 8:),
  'N' (the first N, a cutoff) or 'START:STOP', of `num_ws` (`2 log2(size) - 2`).
  """
  span = MIXING_SPANS.get(spec)
  try:
    if span is None:
      parts = [int(p) for p in spec.split(':')]
      span = (0, parts[0]) if len(parts) == 1 else tuple(parts)
      if len(span) != 2:
        raise ValueError
  except ValueError:
    raise ConfigError(
      f'--mixing_layers={spec!r}: give coarse, middle, fine, N (the first N styles) or START:STOP'
    ) from None
  start, stop = span
  if spec in MIXING_SPANS:
    stop = num_ws if stop is None else min(stop, num_ws)
  if spec in MIXING_SPANS and start >= stop:
    raise ConfigError(
      f'--mixing_layers={spec}: this generator has {num_ws} styles (to {2 ** (num_ws // 2 + 1)}x'
      f'{2 ** (num_ws // 2 + 1)}), none of them {spec}; give coarse, middle or START:STOP'
    )
  if not 0 <= start <= stop <= num_ws:
    raise ConfigError(f'--mixing_layers={spec}: give styles in 0..{num_ws} (START <= STOP)')
  return start, stop


def style_mixing_grid(
  state: GANState,
  rows: Array,
  cols: Array,
  *,
  layers: tuple[int, int] | Array,
  use_ema: bool = True,
  cond: Array | None = None,
  truncation: float | Array = 1.0,
  noise_mode: str = 'const',
  noise_key: Array | None = None,
) -> Array:
  """The StyleGAN figure: cell (i, j) is G with row i's styles at indices `layers` (`[start,
  stop)`; `(0, 4)`: the coarse ones) and column j's elsewhere.

  Args:
    state: the game.
    rows, cols: the sources' latents `[R, z_dim]`, `[C, z_dim]`.
    layers: the style indices taken from the rows (traced: one compilation for every span).
    use_ema, truncation, noise_mode, noise_key: as `generate` (truncation before mixing;
      'random' noise drawn afresh for every image).
    cond: class ids `[R + C]` of the rows, then the columns (a conditional G).

  Returns:
    `[R + 1, C + 1, H, W, C]`: the sources in the first row and column, the corner blank (white).
  """
  variables = _variables(state, use_ema)
  nr, nc = len(rows), len(cols)
  cond_r, cond_c = (None, None) if cond is None else (cond[:nr], cond[nr:])
  ws_r = _styles(state, variables, rows, cond_r, truncation)
  ws_c = _styles(state, variables, cols, cond_c, truncation)
  keys = [None] * 3 if noise_key is None else list(jax.random.split(noise_key, 3))
  top = _render(state, variables, ws_c, noise_mode, keys[0])
  side = _render(state, variables, ws_r, noise_mode, keys[1])
  num_ws = ws_r.shape[1]
  index = jnp.arange(num_ws)
  select = ((index >= layers[0]) & (index < layers[1]))[None, None, :, None]
  mixed = jnp.where(select, ws_r[:, None], ws_c[None, :])  # [R, C, num_ws, w_dim]
  body = _render(state, variables, mixed.reshape(nr * nc, num_ws, -1), noise_mode, keys[2])
  body = body.reshape(nr, nc, *top.shape[1:])
  blank = jnp.ones_like(top[:1])
  first_row = jnp.concatenate([blank, top])[None]
  rest = jnp.concatenate([side[:, None], body], axis=1)
  return jnp.concatenate([first_row, rest], axis=0)


_style_mixing_grid = jax.jit(style_mixing_grid, static_argnames=('use_ema', 'noise_mode'))


# ----- the game for the trainer ------------------------------------------------------------------


def base_config() -> ConfigDict:
  """StyleGAN2 at 32x32 with the ADA paper's `cifar` settings (fmaps 1, mapping 2, gamma 0.01,
  EMA 500 kimg with ramp-up 0.05, no path length, no style mixing, D 'orig')."""
  config = schema.base()
  config.game = 'stylegan2'
  size = config_dict.FieldReference(32)
  channels = config_dict.FieldReference(3)
  config.model = ConfigDict()
  config.model.name = 'stylegan2'
  config.model.size = size
  config.model.channels = channels
  config.model.z_dim = 512
  config.model.w_dim = 512
  config.model.num_classes = 0
  config.model.mapping_layers = 2
  config.model.channel_base = 32768  # fmaps 1 (0.5 is 16384)
  config.model.channel_max = 512
  config.model.mbstd_group = 32
  config.model.d_architecture = 'orig'
  config.model.num_half_res = 4  # highest resolutions in bfloat16 under train.half_precision
  config.model.modconv = 'unfused'
  config.model.output = 'linear'  # 'tanh': G's images squashed into [-1, 1] (not the paper's)

  config.data = schema.image_data(size, channels)

  adam = {'name': 'adam', 'learning_rate': 0.0025, 'b1': 0.0, 'b2': 0.99, 'eps': 1e-8}
  config.optimizer = ConfigDict({'g': dict(adam), 'd': dict(adam)})
  for key in ('n_critic', 'gp_weight', 'r2_gamma', 'd_joint', 'unroll', 'diffaug', 'aux_weight'):
    del config.loss[key]  # the DCGAN game's knobs
  del config.train.ema_decay  # the EMA here has a half-life in images (ema_kimg)
  config.loss.name = 'non_saturating'
  config.loss.r1_gamma = 0.01
  config.loss.r1_every = 16
  config.loss.pl_weight = 0.0
  config.loss.pl_every = 4
  config.loss.pl_decay = 0.01
  config.loss.pl_batch_shrink = 2
  config.loss.style_mixing = 0.0

  config.augment = ConfigDict()
  config.augment.mode = 'ada'  # ada | fixed | diffaug | none
  config.augment.p = 0.0  # the starting p (ada) or the p (fixed)
  config.augment.target = 0.6
  config.augment.interval = 4
  config.augment.kimg = 500.0
  config.augment.pipe = 'bgc'
  config.augment.diffaug = 'color,translation,cutout'

  config.train.batch_size = 64
  config.train.ema_kimg = 500.0
  config.train.ema_rampup = 0.05
  config.train.num_steps = 10_000
  config.train.log_every = 100
  config.train.sample_every = 1000
  config.train.checkpoint_every = 1000
  config.eval.num_samples = 64
  config.eval.truncation = 1.0  # psi of the sample grids
  return config


def paper256_config() -> ConfigDict:
  """The ADA paper's `paper256` settings (FFHQ/LSUN at 256): fmaps 0.5, mapping 8, mbstd 8,
  gamma 1, EMA 20 kimg, path length, style mixing 0.9, D 'resnet'."""
  config = base_config()
  config.model.size = 256
  config.model.channel_base = 16384
  config.model.mapping_layers = 8
  config.model.mbstd_group = 8
  config.model.d_architecture = 'resnet'
  config.loss.r1_gamma = 1.0
  config.loss.pl_weight = 2.0
  config.loss.style_mixing = 0.9
  config.train.ema_kimg = 20.0
  config.train.ema_rampup = 0.0
  return config


def step_settings(config: ConfigDict) -> Settings:
  loss, aug = config.loss, config.augment
  try:
    return Settings(
      batch_size=config.train.batch_size,
      r1_gamma=loss.r1_gamma,
      r1_every=loss.r1_every,
      pl_weight=loss.pl_weight,
      pl_every=loss.pl_every,
      pl_decay=loss.pl_decay,
      pl_batch_shrink=loss.pl_batch_shrink,
      style_mixing=loss.style_mixing,
      ema_kimg=config.train.ema_kimg if config.train.use_ema else 0.0,
      ema_rampup=config.train.ema_rampup,
      augment=aug.mode,
      ada_target=aug.target,
      ada_interval=aug.interval,
      ada_kimg=aug.kimg,
      ada_pipe=aug.pipe,
      diffaug=aug.diffaug,
      conditional=bool(config.model.num_classes),
    )
  except ValueError as e:
    raise ConfigError(f'config.loss / config.augment: {e}') from e


def create_models(config: ConfigDict, dtype=None) -> tuple[sg2.Generator, sg2.Discriminator]:
  m = config.model
  shared = dict(size=m.size, channels=m.channels, num_classes=m.num_classes)
  shared.update(channel_base=m.channel_base, channel_max=m.channel_max)
  shared.update(num_half_res=m.num_half_res, dtype=dtype)
  g = sg2.Generator(
    z_dim=m.z_dim,
    w_dim=m.w_dim,
    mapping_layers=m.mapping_layers,
    modconv=m.modconv,
    output=m.get('output', 'linear'),  # configs saved before the key: the paper's linear G
    **shared,
  )
  d = sg2.Discriminator(architecture=m.d_architecture, mbstd_group=m.mbstd_group, **shared)
  return g, d


class SampleGrid(base.Evaluator):
  """Samples of a fixed latent batch (the EMA G, fixed noise, `config.eval.truncation`); class
  rows for a conditional G; at the end also a style-mixing grid (`samples/style_mixing.png`)."""

  def __init__(self, config: ConfigDict, outputs: base.Outputs, game: 'StyleGAN2'):
    self.every = config.train.sample_every
    self.config, self.outputs = config, outputs
    rng = jax.random.fold_in(jax.random.key(config.seed), 0x5EED)
    self.z = np.asarray(jax.random.normal(rng, (config.eval.num_samples, config.model.z_dim)))
    self.num_classes = config.model.num_classes
    self._generate = quality.jitted_generate(game)
    self._mixing = _style_mixing_grid

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    dp, psi = self.outputs.dp, self.config.eval.truncation
    z, cond, ncol = self.z, None, None
    if self.num_classes:
      ncol = max(1, min(10, len(self.z) // self.num_classes))
      z = np.tile(self.z[:ncol], (self.num_classes, 1))
      cond = dp.replicate(np.repeat(np.arange(self.num_classes, dtype=np.int32), ncol))
    out = dp.fetch(self._generate(state, dp.replicate(z), cond=cond, truncation=psi))
    self.outputs.image(base.grid_name(step, final), images.make_grid(out, ncol=ncol), step)
    if final and not self.num_classes:
      n = min(5, len(self.z) // 2)
      num_ws = 2 * int(math.log2(self.config.model.size)) - 2
      grid = dp.fetch(
        self._mixing(
          state,
          dp.replicate(self.z[:n]),
          dp.replicate(self.z[n : 2 * n]),
          layers=mixing_layers('coarse', num_ws),
        )
      )
      rows = grid.reshape(-1, *grid.shape[2:])
      self.outputs.image('style_mixing', images.make_grid(rows, ncol=n + 1), step, tag='mixing')
    return {}


class StyleGAN2(games.Game):
  name = 'stylegan2'
  models = ('stylegan2',)
  entry_point = 'jaxgan.experiments.stylegan2'
  keeps_ema = True
  parallel_modes = ('jit',)
  progress_metrics = ('d_loss', 'g_loss', 'ada_p')

  def smoke(self, config: ConfigDict) -> ConfigDict:
    m = config.model
    m.size, m.z_dim, m.w_dim, m.mapping_layers = 32, 32, 32, 2
    m.channel_base, m.channel_max, m.mbstd_group = 256, 16, 4
    config.augment.interval = 2
    return config

  def validate(self, config: ConfigDict) -> None:
    step_settings(config)
    m = config.model
    if m.size not in [2**i for i in range(5, 11)]:
      raise ConfigError(f'config.model.size={m.size}: StyleGAN2 takes 32, 64, ..., 1024')
    if (config.data.size, config.data.channels) != (m.size, m.channels):
      raise ConfigError(
        f'config.data (size {config.data.size}, channels {config.data.channels}) must match '
        f'config.model (size {m.size}, channels {m.channels})'
      )
    if m.d_architecture not in sg2.D_ARCHITECTURES:
      raise ConfigError(
        f'unknown config.model.d_architecture {m.d_architecture!r}; known: '
        f'{", ".join(sg2.D_ARCHITECTURES)}'
      )
    if m.modconv not in sg2.MODCONV_IMPLS:
      raise ConfigError(
        f'unknown config.model.modconv {m.modconv!r}; known: {", ".join(sg2.MODCONV_IMPLS)}'
      )
    if m.get('output', 'linear') not in sg2.OUTPUTS:
      raise ConfigError(
        f'unknown config.model.output {m.output!r}; known: {", ".join(sg2.OUTPUTS)}'
      )
    if not 0.0 <= config.augment.p <= 1.0:
      raise ConfigError(f'config.augment.p={config.augment.p} must be in [0, 1]')

  def create_state(self, config: ConfigDict, *, axis_name: str | None = None) -> GANState:
    del axis_name  # jit only
    g, d = create_models(config, state_lib.compute_dtype(config))
    loss = config.loss

    def tx(who: str, every: int, regularised: bool):
      o = config.optimizer[who]
      if not regularised:
        return optax.adam(o.learning_rate, b1=o.b1, b2=o.b2, eps=o.eps)
      return lazy_adam(o.learning_rate, o.b1, o.b2, o.eps, every)

    m = config.model
    cond = [jnp.zeros((1,), jnp.int32)] if m.num_classes else []
    return state_lib.create_gan_state(
      jax.random.key(config.seed),
      generator=g,
      discriminator=d,
      g_tx=tx('g', loss.pl_every, loss.pl_weight > 0),
      d_tx=tx('d', loss.r1_every, loss.r1_gamma > 0),
      g_inputs=[jnp.zeros((1, m.z_dim)), *cond],
      d_inputs=[jnp.zeros((1, m.size, m.size, m.channels)), *cond],
      latent_shape=(m.z_dim,),
      use_ema=config.train.use_ema,
      extra={
        'ada': ada.AdaState.create(config.augment.p),
        'pl_mean': jnp.zeros((), jnp.float32),
        'nimg': jnp.zeros((), jnp.int32),
      },
    )

  def step_fn(self, config: ConfigDict, phase: tuple[bool, bool] | None = None):
    return functools.partial(train_step, settings=step_settings(config), phase=phase)

  def step_phase(self, config: ConfigDict, index: int) -> tuple[bool, bool]:
    return lazy_phase(step_settings(config), index)

  def create_batches(self, config: ConfigDict, *, process_index: int = 0, process_count: int = 1):
    batches = pipeline.create_batches(
      config.data,
      global_batch=config.train.batch_size,
      seed=config.seed,
      process_index=process_index,
      process_count=process_count,
    )
    k = config.model.num_classes
    found = getattr(getattr(batches, 'source', None), 'num_classes', 0)
    if k and ('label' not in batches.spec() or found != k):
      raise ConfigError(
        f'config.model.num_classes={k} but the data has {found or "no"} class labels: set '
        f'config.model.num_classes={found}'
      )
    return batches

  def create_evaluators(self, config: ConfigDict, outputs: base.Outputs) -> list:
    return [SampleGrid(config, outputs, self), *evaluators.create_evaluators(config, outputs, self)]

  def generate(self, state, z, *, use_ema: bool = True, cond=None, **kwargs):
    """See `generate` (truncation, noise, interpolation in W)."""
    return generate(state, z, use_ema=use_ema, cond=cond, **kwargs)

  def interpolation(self, a, b, t):
    """Linear interpolation in W (StyleGAN's convention): each image's latent pair and fraction."""
    a, b, t = np.asarray(a), np.asarray(b), np.asarray(t, np.float32)
    steps = len(t)
    z = np.repeat(a, steps, axis=0)
    return z, {'lerp_to': np.repeat(b, steps, axis=0), 'lerp_t': np.tile(t, len(a))}

  def noise(self, mode: str, rng):
    """`sample --noise`: 'random' (drawn from `rng`), 'const' (G's fixed noise) or 'none'."""
    if mode not in sg2.NOISE_MODES:
      raise ConfigError(f'--noise={mode!r}: give one of {", ".join(sg2.NOISE_MODES)}')
    return {'noise_mode': mode, 'noise_key': rng if mode == 'random' else None}

  def style_mixing(self, state, rows, cols, *, layers: str = 'coarse', use_ema=True, **kwargs):
    """The style-mixing grid (`style_mixing_grid`), `layers` a `mixing_layers` SPEC."""
    num_ws = 2 * len(state.g.params['synthesis'])  # one block per resolution from 4x4
    span = mixing_layers(layers, num_ws)
    return _style_mixing_grid(state, rows, cols, layers=span, use_ema=use_ema, **kwargs)

  def truncate(self, z, rng, truncation: float):
    """StyleGAN's truncation: styles pulled toward `w_avg` by psi = `truncation`."""
    del rng
    if not 0.0 <= truncation <= 1.0:
      raise ConfigError(f'--truncation={truncation}: give psi in [0, 1] (1: none)')
    return z, {'truncation': truncation}


GAME = StyleGAN2()
