"""The workloads the benchmark times: a config per `--model`, and synthetic batches of its shapes.

The bench asks for a config the way a user does, from a game's base config
(`gan.dcgan_config()`, `cyclegan.base_config()`, `pix2pix.base_config()`),
then sets the benchmark's flags on it: `CONFIGS` maps each `--model` to the
function that does so; the settings every game shares are set in
`bench_config`. No game knows about the benchmark.
"""

import argparse
from collections.abc import Callable

import ml_collections
import numpy as np

from jaxgan.errors import ConfigError
from jaxgan.games import cyclegan, gan, pix2pix, stylegan2

ConfigDict = ml_collections.ConfigDict


def dcgan(args: argparse.Namespace) -> ConfigDict:
  """DCGAN at `--size/--channels/--width/--latent`, with the loss, EMA and conv flags."""
  config = gan.dcgan_config()
  config.model.size, config.model.channels = args.size, args.channels
  config.model.width, config.model.latent_dim = args.width, args.latent
  if args.g_conv_impl:
    config.model.g_conv_impl = args.g_conv_impl
  if args.d_conv_impl:
    config.model.d_conv_impl = args.d_conv_impl
  config.loss.name, config.loss.d_joint = args.loss, args.d_joint
  config.train.use_ema = args.ema
  return config


def _image_to_image(config: ConfigDict, args: argparse.Namespace) -> ConfigDict:
  """`config` with the bench's size, channels, width (G's and D's) and conv implementation."""
  config.model.size, config.model.channels = args.size, args.channels
  config.data.channels = args.channels
  config.model.features = config.model.d_features = args.width
  if args.conv_impl:
    config.model.conv_impl = args.conv_impl
  return config


def cyclegan_config(args: argparse.Namespace) -> ConfigDict:
  """CycleGAN; `--blocks=0` picks the reference's ResNet-9 at 256x256, else ResNet-6."""
  config = _image_to_image(cyclegan.base_config(), args)
  config.model.num_blocks = args.blocks or (9 if args.size >= 256 else 6)
  return config


def pix2pix_config(args: argparse.Namespace) -> ConfigDict:
  """pix2pix (U-Net G, PatchGAN D on (A, B))."""
  return _image_to_image(pix2pix.base_config(), args)


def stylegan2_config(args: argparse.Namespace) -> ConfigDict:
  """StyleGAN2 (the `cifar` settings) at `--size/--channels`; `--width` is its channel_max,
  `--latent` its z and w size, `--modconv` its modulated convolution (default: the game's);
  lazy R1 every 16 steps as in training. `--augment` by default: ADA at p 0, or none under
  `--vs-torch` (the PyTorch port does not augment)."""
  config = stylegan2.base_config()
  config.model.size, config.model.channels = args.size, args.channels
  config.model.channel_max = args.width
  config.model.z_dim = config.model.w_dim = args.latent
  config.model.mbstd_group = 4
  if args.modconv:
    config.model.modconv = args.modconv
  config.augment.mode = args.augment or ('none' if args.vs_torch else config.augment.mode)
  config.train.use_ema = args.ema
  return config


def biggan_config(args: argparse.Namespace) -> ConfigDict:
  """BigGAN (StudioGAN CIFAR settings, 10 classes) at `--size/--channels/--width`."""
  config = gan.biggan_config()
  config.model.size, config.model.channels = args.size, args.channels
  config.model.width = args.width
  config.loss.n_critic = 1
  config.train.use_ema = args.ema
  return config


CONFIGS: dict[str, Callable[[argparse.Namespace], ConfigDict]] = {
  'dcgan': dcgan,
  'stylegan2': stylegan2_config,
  'biggan': biggan_config,
  'cyclegan': cyclegan_config,
  'pix2pix': pix2pix_config,
}


def bench_config(args: argparse.Namespace) -> ConfigDict:
  """The config the bench times: `CONFIGS[args.model]`, then the settings all games share.

  Raises:
    ConfigError: for a `--model` not in `CONFIGS` (the message lists them).
  """
  if args.model not in CONFIGS:
    raise ConfigError(f'the bench does not time {args.model!r}; known: {", ".join(CONFIGS)}')
  config = CONFIGS[args.model](args)
  config.train.batch_size = args.batch
  config.train.half_precision = args.dtype == 'bfloat16'
  config.num_devices, config.parallel = args.devices, args.parallel
  return config


def settings(args: argparse.Namespace) -> dict[str, str]:
  """The workload's settings a summary names beside its times: StyleGAN2's modulated
  convolution and augmentation; none for the other games."""
  if args.model != 'stylegan2':
    return {}
  config = bench_config(args)
  return {'modconv': config.model.modconv, 'augment': config.augment.mode}


def _images(config: ConfigDict) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(0)
  shape = (config.train.batch_size, *gan.example_shape(config))
  batch = {'image': rng.uniform(-1, 1, shape).astype(np.float32)}
  k = config.model.get('num_classes', 0)
  if k:
    batch['label'] = (np.arange(config.train.batch_size) % k).astype(np.int32)
  return batch


def _pairs(config: ConfigDict) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(0)
  m = config.model
  shape = (config.train.batch_size, m.size, m.size, m.channels)
  return {k: rng.uniform(-1, 1, shape).astype(np.float32) for k in ('a', 'b')}


# By `config.game`: the step's batch keys and shapes.
BATCHES: dict[str, Callable[[ConfigDict], dict[str, np.ndarray]]] = {
  'gan': _images,
  'stylegan2': _images,
  'cyclegan': _pairs,
  'pix2pix': _pairs,
}


def example_batch(config: ConfigDict) -> dict[str, np.ndarray]:
  """A synthetic batch of the step's shapes, uniform in [-1, 1]: `{'image'}` or `{'a', 'b'}`.

  Returns:
    float32 arrays of `[B, H, W, C]`, `B = config.train.batch_size`.
  """
  return BATCHES[config.game](config)
