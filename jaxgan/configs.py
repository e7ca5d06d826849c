"""Base experiment configs, the `:smoke` shrink, and config validation.

Config files in `experiments/` start from a base here and change what differs;
`finalize(config, arg)` applies the config argument (`:smoke`) and checks the
result. Sections: `model`, `data`, `optimizer.g`, `optimizer.d`, `loss`,
`train`, `eval`, `seed`, `parallel`.
"""

import ml_collections
from ml_collections import config_dict

from jaxgan import errors

ConfigDict = ml_collections.ConfigDict

# Keys whose change does not change the experiment: a run may resume with new values.
RESUMABLE_KEYS = (
  'train.num_steps',
  'train.log_every',
  'train.sample_every',
  'train.checkpoint_every',
  'train.keep_checkpoints',
  'train.progress',
  'data.num_threads',
  'data.prefetch',
  'data.data_dir',
  'eval',
  'parallel',
  'num_devices',
  'distributed',
)


def _adam(learning_rate: float = 2e-4, b1: float = 0.5, b2: float = 0.999) -> ConfigDict:
  return ConfigDict({'name': 'adam', 'learning_rate': learning_rate, 'b1': b1, 'b2': b2})


def base() -> ConfigDict:
  """Sections common to every experiment."""
  config = ConfigDict()
  config.game = 'gan'  # 'gan' (unconditional: DCGAN, 2-D MLP) or 'cyclegan'
  config.seed = 0

  config.optimizer = ConfigDict({'g': _adam(), 'd': _adam()})

  config.loss = ConfigDict()
  config.loss.name = 'non_saturating'
  config.loss.n_critic = 1
  config.loss.gp_weight = 0.0
  config.loss.r1_gamma = 0.0
  config.loss.r2_gamma = 0.0
  config.loss.d_joint = False

  config.train = ConfigDict()
  config.train.batch_size = 64
  config.train.num_steps = 10_000
  config.train.log_every = 50
  config.train.sample_every = 1000
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.use_ema = True
  config.train.ema_decay = 0.999
  config.train.progress = True
  config.train.half_precision = False  # bf16 compute, fp32 params and optimizer state

  config.eval = ConfigDict()
  config.eval.num_samples = 64  # images in each sample grid
  config.eval.interpolation_rows = 8
  config.eval.interpolation_steps = 10

  config.parallel = 'jit'  # 'jit' (sharded jit over a device mesh) or 'pmap'
  config.num_devices = 0  # 0: every device of every process

  config.distributed = ConfigDict()  # jax.distributed; empty fields: JAX's auto-detection
  config.distributed.enabled = False
  config.distributed.coordinator_address = ''  # host:port of process 0
  config.distributed.num_processes = 0
  config.distributed.process_id = -1
  return config


def dcgan_base() -> ConfigDict:
  """DCGAN (Radford et al. 2016) with the reference hyperparameters."""
  config = base()
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

  config.data = ConfigDict()
  config.data.source = 'digits'  # digits | tfds | folder
  config.data.name = ''  # TFDS dataset name
  config.data.split = 'train'
  config.data.data_dir = ''  # TFDS data_dir ('' : TFDS default)
  config.data.path = ''  # image folder
  config.data.image_key = 'image'
  config.data.size = size
  config.data.channels = channels
  config.data.random_flip = False
  config.data.num_threads = 4
  config.data.prefetch = 4
  return config


def toy2d_base() -> ConfigDict:
  """MLP GAN on a 2-D Gaussian mixture."""
  config = base()
  config.model = ConfigDict()
  config.model.name = 'mlp'
  config.model.data_dim = 2
  config.model.latent_dim = 2
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.d_hidden = (200, 200, 200)
  config.model.g_batchnorm = True

  config.data = ConfigDict()
  config.data.source = 'toy2d'
  config.data.name = 'ring'
  config.data.num_threads = 1
  config.data.prefetch = 2

  config.optimizer = ConfigDict({'g': _adam(1e-4, 0.8), 'd': _adam(1e-4, 0.8)})
  config.train.batch_size = 100
  config.train.num_steps = 20_000
  config.train.log_every = 100
  config.train.sample_every = 5000
  config.train.checkpoint_every = 5000
  config.train.use_ema = False
  config.eval.num_samples = 2500
  return config


def cyclegan_base() -> ConfigDict:
  """CycleGAN with the reference defaults (ResNet-9 G, 70x70 PatchGAN, LSGAN, pool 50)."""
  config = base()
  config.game = 'cyclegan'
  size = config_dict.FieldReference(256)
  config.model = ConfigDict()
  config.model.name = 'cyclegan'
  config.model.size = size
  config.model.channels = 3
  config.model.features = 64
  config.model.num_blocks = 9  # 6 at 128x128
  config.model.d_features = 64
  config.model.d_layers = 3
  config.model.conv_impl = 'fast'

  config.data = ConfigDict()
  config.data.source = 'folder'  # digits_mapping | folder | tfds
  config.data.name = ''  # TFDS name, e.g. cycle_gan/horse2zebra
  config.data.data_dir = ''
  config.data.path = ''  # a folder with trainA/, trainB/ (testA/, testB/)
  config.data.image_key = 'image'
  config.data.size = size  # the random crop
  config.data.load_size = 286  # images are resized to this first (the reference's jitter)
  config.data.channels = 3
  config.data.random_flip = True
  config.data.num_threads = 4
  config.data.prefetch = 4

  config.loss = ConfigDict()
  config.loss.name = 'least_squares'
  config.loss.cycle_weight = 10.0
  config.loss.identity_weight = 0.5  # x cycle_weight
  config.loss.g_adv_weight = 2.0  # the reference's MSE(D(G(x)), 1) = 2 x LSGAN's (f - 1)^2 / 2
  config.loss.pool_size = 50

  for who in ('g', 'd'):  # constant learning rate, then linear decay to 0
    config.optimizer[who].constant_steps = 100_000
    config.optimizer[who].decay_steps = 100_000
  config.train.batch_size = 1
  config.train.num_steps = 200_000
  config.train.use_ema = False
  config.train.log_every = 100
  config.eval.num_samples = 4  # held-out images per direction in the sample grids
  return config


def pix2pix_base() -> ConfigDict:
  """pix2pix with the reference defaults (U-Net-256 G, 70x70 PatchGAN on (A, B), L1 x 100)."""
  config = cyclegan_base()
  config.game = 'pix2pix'
  config.model.name = 'pix2pix'
  for key in ('num_blocks',):
    del config.model[key]
  config.model.num_downs = 8
  config.model.dropout = 0.5
  config.data.source = 'folder'  # digits_mapping | folder (train/, test/ or val/) | tfds
  del config.data['image_key']
  # TFDS: two image features per record (key_a, key_b), or one A|B image (key_b empty).
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


def smoke(config: ConfigDict) -> ConfigDict:
  """Shrinks any config to a seconds-long CPU run (same code paths, tiny sizes)."""
  config.train.num_steps = 6
  config.train.batch_size = 8 * config.loss.get('n_critic', 1)
  config.train.log_every = 2
  config.train.sample_every = 3
  config.train.checkpoint_every = 3
  config.train.progress = False
  config.eval.num_samples = 16
  config.eval.interpolation_rows = 2
  config.eval.interpolation_steps = 4
  config.data.num_threads = 1
  if config.model.name == 'dcgan':
    config.model.width = 8
    config.model.latent_dim = 16
    if config.model.size > 32:
      config.model.size = 32
  elif config.model.name == 'mlp':
    config.model.g_hidden = (32, 32)
    config.model.d_hidden = (32, 32)
  elif config.model.name in ('cyclegan', 'pix2pix'):
    config.train.batch_size = 2
    config.model.features, config.model.d_features = 8, 8
    if config.model.name == 'cyclegan':
      config.model.num_blocks = 1
    else:  # the U-Net halves the size num_downs times
      config.model.num_downs = min(config.model.num_downs, 5)
    config.model.size = min(config.model.size, 32)
    config.data.load_size = config.model.size + 4
    config.eval.num_samples = 2
    for who in ('g', 'd'):
      config.optimizer[who].constant_steps, config.optimizer[who].decay_steps = 3, 3
  return config


def finalize(config: ConfigDict, arg: str | None) -> ConfigDict:
  """Applies the config argument (None or 'smoke') and validates."""
  if arg not in (None, '', 'smoke'):
    raise errors.ConfigError(f"unknown config argument {arg!r}; known: 'smoke'")
  if arg == 'smoke':
    config = smoke(config)
  return config


def validate(config: ConfigDict) -> None:
  """Checks values that types alone do not; raises ConfigError saying what to fix."""
  train = config.train
  for key in (
    'batch_size',
    'num_steps',
    'log_every',
    'sample_every',
    'checkpoint_every',
    'keep_checkpoints',
  ):
    if train[key] < 1:
      raise errors.ConfigError(f'config.train.{key} must be >= 1; got {train[key]}')
  n_critic = config.loss.get('n_critic', 1)
  if train.batch_size % n_critic:
    raise errors.ConfigError(
      f'config.train.batch_size={train.batch_size} must divide into '
      f'config.loss.n_critic={n_critic} D batches'
    )
  if train.use_ema and not 0.0 <= train.ema_decay < 1.0:
    raise errors.ConfigError(f'config.train.ema_decay must be in [0, 1); got {train.ema_decay}')
  if config.eval.num_samples < 1:
    raise errors.ConfigError('config.eval.num_samples must be >= 1')


def flatten(d: dict, prefix: str = '') -> dict[str, object]:
  """`{'a': {'b': 1}}` -> `{'a.b': 1}`."""
  out = {}
  for key, value in d.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      out.update(flatten(value, name + '.'))
    else:
      out[name] = list(value) if isinstance(value, tuple) else value
  return out


def experiment_differences(old: dict, new: dict) -> list[str]:
  """Keys (dotted) whose values differ between two config dicts, ignoring RESUMABLE_KEYS."""
  old_flat, new_flat = flatten(old), flatten(new)
  resumable = lambda k: any(k == r or k.startswith(r + '.') for r in RESUMABLE_KEYS)
  keys = sorted(set(old_flat) | set(new_flat))
  return [k for k in keys if not resumable(k) and old_flat.get(k) != new_flat.get(k)]
