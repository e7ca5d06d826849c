"""Pure update steps of the unconditional GAN game: `d_step`, `g_step`, `train_step`.

All are plain functions `(state, batch, *, settings) -> (state, metrics)`, whose
static settings are one frozen `Settings` built once from the config
(`jaxgan.games.gan.step_settings`); the trainer binds them with
`functools.partial` and compiles the result once. Nothing here calls `jit`.

The alternation follows the lecture and the PyTorch DCGAN reference: D is
updated on a real batch and on `stop_gradient` fakes, then G is updated
against the *updated* D. In `train_step` the fakes of the last D update are
the ones G is trained through (one G forward pass per step, reused via
`jax.vjp`), as in the PyTorch reference where `fake = G(z)` is computed once.
With `simultaneous=True` G's update reads D as it was before this step's D
update (params and collections): both gradients are taken at the same point and
applied together, one update each, as PacGAN's code (ALI/Blocks) does.

BatchNorm: by default D sees the real and the fake batch in two separate
calls, so each call normalises with its own batch statistics (the reference
behaviour; a D can then tell batches apart by their statistics). With
`d_joint=True` D sees `concat(real, fake)` in one call: one BatchNorm
statistic over the mixed batch — faster, but a different game.
"""

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan import augment, conditional, losses
from jaxgan.state import GANState, PlayerState, apply_update, pmean

Array = jax.Array
Metrics = dict[str, Array]


@dataclasses.dataclass(frozen=True)
class Settings:
  """The static settings of the unconditional game's step, built once from the config.

  A new setting is one field here (with its check in `__post_init__`) and one
  line in `jaxgan.games.gan.step_settings`.

  Attributes:
    loss: a name from `losses.ADVERSARIAL_LOSSES`.
    n_critic: D updates per G update.
    gp_weight: WGAN-GP weight (0: off).
    r1_gamma: R1 weight gamma (penalty `gamma / 2 * ||grad D(real)||^2`; 0: off).
    r1_every: lazy R1 (StyleGAN2): every this many steps, a separate D update on the
      penalty times this (`_lazy_r1_update`); 1: R1 in every D update's loss.
    r2_gamma: R2 weight gamma, on fakes (0: off).
    ema_decay: decay of G's EMA (None: no update).
    d_joint: D sees real and fake in one call (see the module docstring).
    diffaug: DiffAugment policy (`jaxgan.augment`, e.g. 'color,translation,cutout')
      applied to everything D sees, in D's and G's updates ('': off).
    conditional: G and D take each example's condition (`batch['label']` or
      `batch['cond']`); the fakes carry the real batch's conditions.
    aux_weight: weight of an ACGAN D's class cross-entropy (D and G).
    began_gamma, began_lambda_k: BEGAN's diversity ratio and k_t learning rate
      (`loss='began'`: D is an auto-encoder whose outputs are reconstruction
      errors; `state.extra['began_k']` holds k_t, updated after the D updates
      from the last one's mean errors, `losses.began_k_update`; logged as
      `began_k` with the convergence measure `convergence`).
    unroll: G's loss against D after this many look-ahead updates on the same
      real batch and G's fakes, differentiated through (unrolled GAN; 0: off).
    g_ortho: BigGAN's orthogonal regularisation of G's weights at this strength
      (`jaxgan.conditional.orthogonal_regularisation`, embeddings excluded; 0: off).
    ema_start: G's EMA copies G (decay 0) until G has made this many updates (BigGAN).
    simultaneous: `train_step`'s G update reads D as it was before the step's D update
      (both gradients at the same point, applied together; PacGAN's code); False: against
      the updated D. Needs `n_critic=1`: with several D updates "the same point" has no
      single meaning. Look-ahead (`unroll`) then starts from the old D, lazy R1 and BEGAN's
      k_t update as before. `d_step`/`g_step` read whichever D they are given.

  Raises:
    ValueError: for a value out of range or an unknown loss or DiffAugment policy.
  """

  loss: str = 'non_saturating'
  n_critic: int = 1
  gp_weight: float = 0.0
  r1_gamma: float = 0.0
  r1_every: int = 1
  r2_gamma: float = 0.0
  ema_decay: float | None = None
  d_joint: bool = False
  diffaug: str = ''
  conditional: bool = False
  aux_weight: float = 1.0
  began_gamma: float = 0.5
  began_lambda_k: float = 0.001
  unroll: int = 0
  g_ortho: float = 0.0
  ema_start: int = 0
  simultaneous: bool = False

  def __post_init__(self):
    losses.get_adversarial_loss(self.loss)
    augment.parse(self.diffaug)
    for name, least in (('r1_every', 1), ('unroll', 0), ('n_critic', 1), ('ema_start', 0)):
      if getattr(self, name) < least:
        raise ValueError(f'{name} must be >= {least}; got {getattr(self, name)}')
    if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
      raise ValueError(f'ema_decay must be in [0, 1) or None; got {self.ema_decay}')
    if self.simultaneous and self.n_critic != 1:
      raise ValueError(
        f'simultaneous updates (one D and one G update from the same point) need n_critic=1; '
        f'got {self.n_critic}'
      )


def sample_latent(state: GANState, rng: Array, n: int, axis_name: str | None = None) -> Array:
  """`z ~ N(0, I)` of shape `[n, *latent_shape]`.

  Under `pmap` (`axis_name` set) each device draws the latents of the global
  batch and keeps its own slice, so N devices see the latents one device would.
  """
  if axis_name is None:
    return jax.random.normal(rng, (n, *state.latent_shape))
  size = jax.lax.psum(1, axis_name)
  z = jax.random.normal(rng, (n * size, *state.latent_shape))
  return jax.lax.dynamic_slice_in_dim(z, jax.lax.axis_index(axis_name) * n, n)


def generate(
  state: GANState, z: Array, *, use_ema: bool = True, cond: Array | None = None
) -> Array:
  """G's output in inference mode (BatchNorm running statistics), EMA weights if present.

  `cond`: the condition of each sample (class ids `[n]` or vectors `[n, d]`) for a
  conditional G; None for an unconditional one.
  """
  if use_ema and state.ema is not None:
    variables = dict(state.ema)
    params = variables.pop('params')
    out, _ = state.g.apply(params, z, *_args(cond), train=False, collections=variables)
    return out
  out, _ = state.g.apply(state.g.params, z, *_args(cond), train=False)
  return out


def _args(cond: Array | None) -> tuple:
  """The extra positional inputs of a conditional network: `(cond,)`, or `()` without one."""
  return () if cond is None else (cond,)


def _heads(out) -> tuple[Array, Array | None]:
  """D's output -> (adversarial logits `[B]`, class logits `[B, K]` of an ACGAN D or None)."""
  return out if isinstance(out, tuple) else (out, None)


def _class_loss(class_logits: Array, labels: Array) -> Array:
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


def _d_loss(
  d: PlayerState,
  params,
  real: Array,
  fake: Array,
  rng: Array,
  *,
  settings: Settings,
  real_cond: Array | None = None,
  fake_cond: Array | None = None,
  began_k: Array | None = None,
) -> tuple[Array, tuple[Any, Metrics]]:
  """D's objective at `params`: `(total, (collections after the call, metrics))`.

  With `settings.diffaug`, D sees real and fake through the same random augmentation
  policy (independent draws); penalties are taken on what D sees. Lazy R1:
  with `r1_every = k > 1` R1 is left out here: `_lazy_r1_update` applies it.
  A conditional D sees each image with its condition; an ACGAN D (class
  logits beside the adversarial ones) adds `aux_weight` times the
  cross-entropy of the real and fake images' classes. BEGAN's loss (an
  equilibrium loss) weighs the fakes by `began_k`, the state's `k_t`.
  """
  s = settings
  rc, fc = _args(real_cond), _args(fake_cond)
  adversarial = losses.get_adversarial_loss(s.loss)
  if adversarial.equilibrium and began_k is None:
    raise ValueError(f'the {s.loss!r} loss needs k_t (state.extra["began_k"]): use train_step')
  if s.diffaug:
    real_rng, fake_rng, rng = jax.random.split(rng, 3)
    real = augment.diff_augment(real, real_rng, s.diffaug)
    fake = augment.diff_augment(fake, fake_rng, s.diffaug)
  if s.d_joint:
    both = [jnp.concatenate([r, f]) for r, f in zip(rc, fc, strict=True)]
    out, collections = d.apply(params, jnp.concatenate([real, fake]), *both, train=True)
    logits, class_logits = _heads(out)
    real_logits, fake_logits = jnp.split(logits, 2)
    real_cls, fake_cls = (None, None) if class_logits is None else jnp.split(class_logits, 2)
  else:
    out, collections = d.apply(params, real, *rc, train=True)
    real_logits, real_cls = _heads(out)
    out, collections = d.apply(params, fake, *fc, train=True, collections=collections)
    fake_logits, fake_cls = _heads(out)
  if adversarial.equilibrium:
    total = jnp.mean(adversarial.d(real_logits, fake_logits, began_k))
  else:
    total = jnp.mean(adversarial.d(real_logits, fake_logits))
  metrics = {
    'd_loss': total,
    'd_real_logit': jnp.mean(real_logits),
    'd_fake_logit': jnp.mean(fake_logits),
  }
  if real_cls is not None:
    aux = _class_loss(real_cls, real_cond) + _class_loss(fake_cls, fake_cond)
    metrics['d_aux'] = aux
    total += s.aux_weight * aux
  # Penalties see D in training mode; their BatchNorm updates are dropped.
  critic = lambda x: _heads(d.apply(params, x, *rc, train=True, collections=collections)[0])[0]
  fake_critic = lambda x: _heads(d.apply(params, x, *fc, train=True, collections=collections)[0])[0]
  if s.gp_weight:
    gp = jnp.mean(losses.gradient_penalty(critic, real, fake, rng))
    metrics['gp'] = gp
    total += s.gp_weight * gp
  if s.r1_gamma and s.r1_every == 1:
    r1 = jnp.mean(losses.r1_penalty(critic, real))
    metrics['r1'] = r1
    total += 0.5 * s.r1_gamma * r1
  if s.r2_gamma:
    r2 = jnp.mean(losses.r2_penalty(fake_critic, fake))
    metrics['r2'] = r2
    total += 0.5 * s.r2_gamma * r2
  metrics['d_total'] = total
  return total, (collections, metrics)


def _d_update(
  d: PlayerState,
  real: Array,
  fake: Array,
  rng: Array,
  *,
  settings: Settings,
  axis_name: str | None = None,
  **conditions,
) -> tuple[PlayerState, Metrics]:
  """One optimizer update of D on `real` and (constant) `fake` (`conditions`: `_d_loss`'s)."""
  fake = jax.lax.stop_gradient(fake)
  grads, (collections, metrics) = jax.grad(_d_loss, argnums=1, has_aux=True)(
    d, d.params, real, fake, rng, settings=settings, **conditions
  )
  return apply_update(d, grads, collections, metrics, name='d', axis_name=axis_name)


def _lazy_r1_update(
  d: PlayerState,
  real: Array,
  cond: Array | None,
  rng: Array,
  now: Array,
  *,
  settings: Settings,
  axis_name: str | None,
) -> tuple[PlayerState, Array]:
  """Lazy R1 (StyleGAN2): every `r1_every` steps, one extra optimizer update of D on
  `r1_every * r1_gamma / 2 * R1` alone; a `lax.cond`, so the other steps skip its cost.

  Returns D and the R1 value (0 on the steps it skips).
  """
  r1_gamma, r1_every, diffaug = settings.r1_gamma, settings.r1_every, settings.diffaug

  def update(d):
    seen = augment.diff_augment(real, rng, diffaug) if diffaug else real

    def loss_fn(params):
      critic = lambda x: _heads(d.apply(params, x, *_args(cond), train=True)[0])[0]
      r1 = jnp.mean(losses.r1_penalty(critic, seen))
      return 0.5 * r1_gamma * r1_every * r1, r1

    grads, r1 = jax.grad(loss_fn, has_aux=True)(d.params)
    grads, r1 = pmean((grads, r1), axis_name)
    return d.apply_gradients(grads, d.collections), r1

  return jax.lax.cond(now, update, lambda d: (d, jnp.zeros((), jnp.float32)), d)


def unrolled_d(
  d: PlayerState,
  real: Array,
  fake: Array,
  rng: Array,
  *,
  settings: Settings,
  axis_name: str | None = None,
  cond: Array | None = None,
  began_k: Array | None = None,
) -> PlayerState:
  """D after `unroll` look-ahead updates on `real` and `fake` (Metz et al., 2017).

  Nothing is stopped: the result is differentiable in `fake`, so a G loss
  evaluated with it sees how D would answer G's move. A `lax.scan`, so the
  compiled size does not grow with `settings.unroll`; `unroll=0` returns `d`.
  """

  def update(d, i):
    grads, (collections, _) = jax.grad(_d_loss, argnums=1, has_aux=True)(
      d,
      d.params,
      real,
      fake,
      jax.random.fold_in(rng, i),
      settings=settings,
      real_cond=cond,
      fake_cond=cond,
      began_k=began_k,
    )
    grads = pmean(grads, axis_name)
    return d.apply_gradients(grads, collections), None

  d, _ = jax.lax.scan(update, d, jnp.arange(settings.unroll))
  return d


def _g_forward(state: GANState, z: Array, cond: Array | None = None):
  """G's training-mode forward pass with a pullback: `(fake, vjp_fn, new_collections)`."""
  g_fn = lambda p: state.g.apply(p, z, *_args(cond), train=True)
  return jax.vjp(g_fn, state.g.params, has_aux=True)


def _g_update(
  state: GANState,
  fake: Array,
  g_vjp,
  g_collections,
  real: Array,
  *,
  settings: Settings,
  rng: Array | None = None,
  began_k: Array | None = None,
  cond: Array | None = None,
  axis_name: str | None = None,
) -> tuple[PlayerState, Metrics]:
  """One optimizer update of G through D (D's variables are read, never written).

  A conditional G's fakes carry the real batch's conditions `cond`; against an
  ACGAN D, G also minimises `aux_weight` times the fakes' class cross-entropy.

  With `unroll > 0` G's loss is taken against D after `unroll` look-ahead
  updates on `real` and G's own fakes (`unrolled_d`), differentiated through.
  """
  s = settings
  adversarial = losses.get_adversarial_loss(s.loss)

  c = _args(cond)

  def loss_fn(fake):
    d = state.d
    if s.unroll:
      d = unrolled_d(
        d, real, fake, rng, settings=s, axis_name=axis_name, cond=cond, began_k=began_k
      )
    seen_fake, seen_real = fake, real
    if s.diffaug:
      fake_rng, real_rng = jax.random.split(jax.random.fold_in(rng, 2))
      seen_fake = augment.diff_augment(fake, fake_rng, s.diffaug)
      seen_real = augment.diff_augment(real, real_rng, s.diffaug)
    fake_logits, fake_cls = _heads(d.apply(d.params, seen_fake, *c, train=True)[0])
    ref = fake_logits
    if adversarial.g_needs_real:
      ref = jax.lax.stop_gradient(_heads(d.apply(d.params, seen_real, *c, train=True)[0])[0])
    g_loss = jnp.mean(adversarial.g(ref, fake_logits))
    metrics = {'g_loss': g_loss}
    if fake_cls is not None:
      metrics['g_aux'] = _class_loss(fake_cls, cond)
      g_loss += s.aux_weight * metrics['g_aux']
    return g_loss, metrics

  (_, metrics), d_fake = jax.value_and_grad(loss_fn, has_aux=True)(fake)
  (grads,) = g_vjp(d_fake.astype(fake.dtype))
  if s.g_ortho:
    ortho_fn = lambda p: conditional.orthogonal_regularisation(p, strength=s.g_ortho)
    metrics['g_ortho'], ortho_grads = jax.value_and_grad(ortho_fn)(state.g.params)
    grads = jax.tree.map(jnp.add, grads, ortho_grads)
  return apply_update(state.g, grads, g_collections, metrics, name='g', axis_name=axis_name)


def _update_ema(ema, g: PlayerState, decay: float | None, start: int = 0):
  """EMA of G's variables with warm-up: the decay is `min(decay, (1 + t) / (10 + t))`.

  Early weights are poor; the warm-up keeps them from dominating a short run's
  average (the num_updates rule of TensorFlow's ExponentialMovingAverage). Before
  G's `start`-th update the EMA is G itself (BigGAN starts its EMA at a step).
  """
  if ema is None or decay is None:
    return ema
  t = g.step.astype(jnp.float32)
  decay = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
  if start:
    decay = jnp.where(g.step < start, 0.0, decay)
  return optax.incremental_update(g.variables, ema, step_size=1.0 - decay)


def _update_rngs(state: GANState, i: int) -> tuple[Array, Array]:
  """Keys (latents, penalties) of the i-th D update of the current step."""
  z_rng, pen_rng = jax.random.split(jax.random.fold_in(state.step_key(), i))
  return z_rng, pen_rng


def _conditions(batch: dict[str, Array], conditional: bool) -> Array | None:
  """The conditions of a conditional game: `batch['cond']` (vectors) or `batch['label']`."""
  if not conditional:
    return None
  for key in ('cond', 'label'):
    if key in batch:
      return batch[key]
  raise ValueError(
    f'a conditional GAN needs "label" (class ids) or "cond" (vectors) in the batch; got keys '
    f'{sorted(batch)}: train on labelled data or set config.model.num_classes=0'
  )


def _check_batch(batch: dict[str, Array], n_critic: int) -> Array:
  if 'image' not in batch:
    raise ValueError(f'batch must hold real data under "image"; got keys {sorted(batch)}')
  real = batch['image']
  if real.shape[0] % n_critic:
    raise ValueError(
      f'batch of {real.shape[0]} does not split into n_critic={n_critic} equal D batches'
    )
  return real


def d_step(
  state: GANState, batch: dict[str, Array], *, settings: Settings = Settings()
) -> tuple[GANState, Metrics]:
  """One D update on `batch['image']` and fresh fakes; G is left untouched.

  G generates in training mode (as in `train_step`) but its BatchNorm
  statistics are not kept: `d_step` changes nothing of G. Uses the loss,
  penalties and `d_joint` of `settings`.
  """
  real = _check_batch(batch, 1)
  z_rng, pen_rng = _update_rngs(state, 0)
  fake, _ = state.g.apply(state.g.params, sample_latent(state, z_rng, real.shape[0]), train=True)
  d, metrics = _d_update(state.d, real, fake, pen_rng, settings=settings)
  return state.replace(d=d), metrics


def g_step(
  state: GANState, batch: dict[str, Array], *, settings: Settings = Settings()
) -> tuple[GANState, Metrics]:
  """One G update against the current D; D is left untouched.

  `batch['image']` sets the batch size (and feeds D's real logits for the
  relativistic loss). G draws the same latents as `d_step` at the same step, so
  `g_step(d_step(s))` is `train_step(s)` with `n_critic=1` (less the step count).
  Uses the loss and `ema_decay` of `settings`.
  """
  real = _check_batch(batch, 1)
  z = sample_latent(state, _update_rngs(state, 0)[0], real.shape[0])
  fake, g_vjp, g_collections = _g_forward(state, z)
  g, metrics = _g_update(state, fake, g_vjp, g_collections, real, settings=settings)
  return state.replace(g=g, ema=_update_ema(state.ema, g, settings.ema_decay)), metrics


def train_step(
  state: GANState,
  batch: dict[str, Array],
  *,
  settings: Settings = Settings(),
  axis_name: str | None = None,
) -> tuple[GANState, Metrics]:
  """`settings.n_critic` D updates, then one G update against the updated D (with
  `settings.simultaneous`, against D as it was before the step).

  Args:
    state: the game.
    batch: `{'image': [n_critic * B, ...]}`; each D update takes its own slice of B.
    settings: the step's static settings (`Settings`).
    axis_name: the `pmap` axis: gradients and metrics are averaged over it and
      latents are drawn for the global batch (None under `jit`, where the
      compiler partitions the global computation). BatchNorm layers must be
      built with the same axis name to normalise over the global batch.

  Returns:
    The new state and scalar metrics of the last D update and of the G update.
  """
  s = settings
  real = _check_batch(batch, s.n_critic)
  reals = jnp.split(real, s.n_critic)
  cond = _conditions(batch, s.conditional)
  conds = [None] * s.n_critic if cond is None else jnp.split(cond, s.n_critic)
  equilibrium = losses.get_adversarial_loss(s.loss).equilibrium
  began_k = None
  if equilibrium:
    if 'began_k' not in state.extra:
      raise ValueError(
        f'the {s.loss!r} loss needs k_t in state.extra["began_k"]; the game creates it when '
        'config.loss.name is "began"'
      )
    began_k = state.extra['began_k']
  d_update = functools.partial(_d_update, settings=s, axis_name=axis_name, began_k=began_k)
  latent = lambda rng, n: sample_latent(state, rng, n, axis_name)
  d = state.d
  for i in range(s.n_critic - 1):
    z_rng, pen_rng = _update_rngs(state, i + 1)
    z = latent(z_rng, reals[i].shape[0])
    fake, _ = state.g.apply(state.g.params, z, *_args(conds[i]), train=True)
    d, _ = d_update(d, reals[i], fake, pen_rng, real_cond=conds[i], fake_cond=conds[i])
  z_rng, pen_rng = _update_rngs(state, 0)  # the last D update shares its fakes with G
  fake, g_vjp, g_collections = _g_forward(state, latent(z_rng, reals[-1].shape[0]), conds[-1])
  d, d_metrics = d_update(d, reals[-1], fake, pen_rng, real_cond=conds[-1], fake_cond=conds[-1])
  if s.r1_gamma and s.r1_every > 1:
    d, d_metrics['r1'] = _lazy_r1_update(
      d,
      reals[-1],
      conds[-1],
      jax.random.fold_in(pen_rng, 3),
      state.step % s.r1_every == 0,
      settings=s,
      axis_name=axis_name,
    )
  d_before, state = state.d, state.replace(d=d)
  if equilibrium:
    real_error, fake_error = d_metrics['d_real_logit'], d_metrics['d_fake_logit']
    k = losses.began_k_update(
      began_k, real_error, fake_error, gamma=s.began_gamma, lambda_k=s.began_lambda_k
    )
    state = state.replace(extra={**state.extra, 'began_k': k})
    d_metrics['began_k'] = k
    d_metrics['convergence'] = losses.began_convergence(real_error, fake_error, gamma=s.began_gamma)
  g, g_metrics = _g_update(
    state.replace(d=d_before) if s.simultaneous else state,
    fake,
    g_vjp,
    g_collections,
    reals[-1],
    settings=s,
    rng=jax.random.fold_in(pen_rng, 1),
    began_k=began_k,
    cond=conds[-1],
    axis_name=axis_name,
  )
  ema = _update_ema(state.ema, g, s.ema_decay, s.ema_start)
  state = state.replace(step=state.step + 1, g=g, ema=ema)
  return state, {**d_metrics, **g_metrics}
