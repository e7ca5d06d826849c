"""Model registry: a family name -> a factory of its (generator, discriminator) pair."""

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn

from jaxgan.models import biggan, dcgan, mlp, unrolled

D_ARCHS = ('dcgan', 'autoencoder')


def _dcgan(
  *,
  size: int = 64,
  channels: int = 3,
  width: int = 64,
  latent_dim: int = 100,
  g_conv_impl: str = 'fast',
  d_conv_impl: str = 'fast',
  pack: int = 1,
  mbstd_group: int = 0,
  d_norm: str = 'batch',
  num_classes: int = 0,
  cond_dim: int = 0,
  d_cond: str = 'projection',
  d_arch: str = 'dcgan',
  d_embed: int = 64,
  dtype: Any = None,
  bn_axis_name: str | None = None,
):
  if d_arch not in D_ARCHS:
    raise ValueError(f'unknown config.model.d_arch {d_arch!r}; known: {", ".join(D_ARCHS)}')
  if d_cond not in ('projection', 'acgan'):
    raise ValueError(f'unknown config.model.d_cond {d_cond!r}; known: projection, acgan')
  if num_classes and cond_dim:
    raise ValueError('set config.model.num_classes (class ids) or cond_dim (vectors), not both')
  if d_cond == 'acgan' and cond_dim:
    raise ValueError("config.model.d_cond='acgan' predicts class ids: use num_classes")
  cond = dict(num_classes=num_classes, cond_dim=cond_dim)
  if d_norm not in dcgan.NORMS:
    raise ValueError(f'unknown config.model.d_norm {d_norm!r}; known: {", ".join(dcgan.NORMS)}')
  g = dcgan.Generator(
    size=size,
    channels=channels,
    width=width,
    latent_dim=latent_dim,
    **cond,
    conv_impl=g_conv_impl,
    dtype=dtype,
    bn_axis_name=bn_axis_name,
  )
  d_shared = dict(
    size=size, channels=channels, width=width, norm=d_norm, conv_impl=d_conv_impl, dtype=dtype
  )
  if d_arch == 'autoencoder':
    for key, value, off in (
      ('num_classes', num_classes, 0),
      ('cond_dim', cond_dim, 0),
      ('pack', pack, 1),
      ('mbstd_group', mbstd_group, 0),
    ):
      if value != off:
        raise ValueError(
          f"config.model.d_arch='autoencoder' (BEGAN) takes no config.model.{key}: set it to {off}"
        )
    if d_norm == 'batch':
      raise ValueError(
        "config.model.d_arch='autoencoder' takes config.model.d_norm 'none' (BEGAN's) or "
        "'spectral', not 'batch'"
      )
    return g, dcgan.AutoencoderDiscriminator(**d_shared, embed_dim=d_embed)
  d = dcgan.Discriminator(
    **d_shared,
    pack=pack,
    mbstd_group=mbstd_group,
    **cond,
    cond_mode=d_cond,
    bn_axis_name=bn_axis_name,
  )
  return g, d


def _mlp(
  *,
  data_dim: int = 2,
  latent_dim: int = 2,
  g_hidden=(128, 128),
  d_hidden=(128, 128),
  g_batchnorm: bool = False,
  g_bn_groups: int = 0,
  init_std: float = 0.0,
  pack: int = 1,
  d_maxout: int = 0,
  mbstd_group: int = 0,
  d_fourier_features: int = 0,
  d_fourier_scale: float = 1.0,
  d_norm: str = 'none',
  dtype: Any = None,
  bn_axis_name: str | None = None,
):
  if d_norm not in ('none', 'spectral'):
    raise ValueError(f'unknown config.model.d_norm {d_norm!r} for the MLP; known: none, spectral')
  if g_bn_groups and bn_axis_name:
    raise ValueError("config.model.g_bn_groups > 0 does not train under config.parallel='pmap'")
  g = mlp.Generator(
    hidden=tuple(g_hidden),
    data_dim=data_dim,
    latent_dim=latent_dim,
    batchnorm=g_batchnorm,
    bn_groups=g_bn_groups,
    init_std=init_std,
    dtype=dtype,
    bn_axis_name=bn_axis_name,
  )
  d = mlp.Discriminator(
    hidden=tuple(d_hidden),
    data_dim=data_dim,
    pack=pack,
    maxout=d_maxout,
    mbstd_group=mbstd_group,
    fourier_features=d_fourier_features,
    fourier_scale=d_fourier_scale,
    spectral_norm=d_norm == 'spectral',
    init_std=init_std,
    dtype=dtype,
  )
  return g, d


MODELS: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {
  'dcgan': _dcgan,
  'mlp': _mlp,
  'biggan': biggan.create,
  'unrolled': unrolled.create,
}


def create_models(
  name: str, kwargs: Mapping[str, Any] | None = None, **overrides
) -> tuple[nn.Module, nn.Module]:
  """Builds the (generator, discriminator) pair of model family `name`.

  Raises:
    ValueError: on an unknown family or an argument the family does not take.
  """
  if name not in MODELS:
    raise ValueError(f'unknown model {name!r}; known models: {", ".join(sorted(MODELS))}')
  factory = MODELS[name]
  kwargs = {**(kwargs or {}), **overrides}
  accepted = set(inspect.signature(factory).parameters)
  unknown = sorted(set(kwargs) - accepted)
  if unknown:
    raise ValueError(
      f'model {name!r} takes no argument(s) {", ".join(unknown)}; '
      f'it takes: {", ".join(sorted(accepted))}'
    )
  return factory(**kwargs)
