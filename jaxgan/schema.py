"""The config schema every game shares, its value checks, and the rules of resuming a stored run.

Each game's base config (`jaxgan/games/<game>.py`) starts from `base()` here and
adds its sections: `model`, `data`, `optimizer.g`, `optimizer.d`, `loss`,
`train`, `eval`, `seed`, `parallel`. `check_values` checks every number of a
config by section. The resume rules say which keys may change between a
stored run and its resumption (`RESUMABLE_KEYS`), which keys were added after
runs were stored (`ADDED_KEYS`), and how a NaN rollback lowers and carries
the learning rates. Nothing here knows the games; `jaxgan.configs` (loading,
`:smoke`, validation) does.
"""

import math

import ml_collections
from flax import traverse_util

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
  'train.on_nan',
  'train.max_rollbacks',
  'data.num_threads',
  'data.prefetch',
  'data.workers',
  'data.data_dir',
  'eval',
  'evals',
  'train.best_metric',
  'train.best_mode',
  'parallel',
  'num_devices',
  'distributed',
)


# Model numbers where 0 means "off" or the default (every other model count must be >= 1).
OPTIONAL_COUNTS = (
  'mbstd_group',
  'maxout',
  'fourier_features',
  'num_classes',
  'cond_dim',
  'bn_groups',
  'init_std',
)


def adam(learning_rate: float = 2e-4, b1: float = 0.5, b2: float = 0.999) -> ConfigDict:
  """An optimizer section: Adam (the DCGAN reference's 2e-4, betas (0.5, 0.999) by default)."""
  return ConfigDict({'name': 'adam', 'learning_rate': learning_rate, 'b1': b1, 'b2': b2})


def base() -> ConfigDict:
  """Sections common to every experiment; each game's base config (jaxgan/games/) adds the rest."""
  config = ConfigDict()
  config.game = 'gan'  # a module of jaxgan/games/: gan, cyclegan, pix2pix, stylegan2
  config.seed = 0
  config.num_seeds = 1  # > 1: seeds seed, seed + 1, ... trained at once, vmapped (jaxgan/seeds.py)

  config.optimizer = ConfigDict({'g': adam(), 'd': adam()})

  config.loss = ConfigDict()
  config.loss.name = 'non_saturating'
  config.loss.n_critic = 1
  config.loss.gp_weight = 0.0
  config.loss.r1_gamma = 0.0
  config.loss.r2_gamma = 0.0
  config.loss.d_joint = False
  config.loss.r1_every = 1  # lazy R1: the penalty every this many steps, scaled by it
  config.loss.unroll = 0  # G against D after this many look-ahead updates (unrolled GAN)
  config.loss.diffaug = ''  # DiffAugment policy for D's inputs, e.g. 'color,translation,cutout'
  config.loss.aux_weight = 1.0  # an ACGAN D's class cross-entropy weight (D and G)

  config.train = ConfigDict()
  config.train.batch_size = 64
  config.train.num_steps = 10_000
  config.train.log_every = 50
  config.train.sample_every = 1000  # sample grids
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 3
  config.train.use_ema = True
  config.train.ema_decay = 0.999
  config.train.progress = True
  config.train.half_precision = False  # bf16 compute, fp32 params and optimizer state
  # On a NaN/inf: 'stop' (naming the last good checkpoint), or 'rollback': restore the
  # last good checkpoint, multiply both learning rates by rollback_lr_factor, go on;
  # at most max_rollbacks times. `rollbacks` counts them (the trainer sets it).
  config.train.on_nan = 'stop'
  config.train.rollback_lr_factor = 0.5
  config.train.max_rollbacks = 3
  config.train.rollbacks = 0
  # Keep the checkpoint with the best value of this logged metric (an evaluator's output,
  # e.g. 'classifier_fid') in checkpoints_best_<metric>/, beside the latest ones.
  config.train.best_metric = ''
  config.train.best_mode = 'min'  # 'min' or 'max'

  config.eval = ConfigDict()
  config.eval.every = 0  # steps between the game's metrics; 0: with the sample grids
  config.eval.num_samples = 64  # images in each sample grid
  config.eval.interpolation_rows = 8
  config.eval.interpolation_steps = 10

  # Named evaluators, each with its own schedule: name -> a section with a `type`
  # (jaxgan.eval.evaluators.EVALUATORS), e.g. options.quality_config(metrics='fid,kid', every=1000).
  config.evals = ConfigDict()

  config.parallel = 'jit'  # 'jit' (sharded jit over a device mesh) or 'pmap'
  config.num_devices = 0  # 0: every device of every process

  config.distributed = ConfigDict()  # jax.distributed; empty fields: JAX's auto-detection
  config.distributed.enabled = False
  config.distributed.coordinator_address = ''  # host:port of process 0
  config.distributed.num_processes = 0
  config.distributed.process_id = -1
  return config


def _numbers(section: ConfigDict, prefix: str):
  """(dotted key, value) of every number in `section`, each entry of a tuple of numbers included."""
  for key, value in flatten(section.to_dict()).items():
    values = value if isinstance(value, list) else [value]
    for v in values:
      if isinstance(v, int | float) and not isinstance(v, bool):
        yield f'{prefix}.{key}', v


def range_error(key: str, value, wanted: str) -> errors.ConfigError:
  return errors.ConfigError(f'config.{key} must be {wanted}; got {value!r}')


def check_values(config: ConfigDict) -> None:
  """Every number in the config within its range, so no bad value reaches JAX or Orbax.

  Rules by section, so a new key is covered without being listed: in `model`
  every count (width, features, layers, sizes, hidden widths) is >= 1 (those of
  `OPTIONAL_COUNTS` >= 0, where 0 is off) and a `dropout` is in [0, 1); in
  `loss` every weight or gamma is >= 0 and `n_critic` >= 1; in `optimizer`
  learning rates are > 0, betas in [0, 1) and every other number >= 0; in
  `data` sizes are >= 1; everywhere, numbers are finite.
  """
  for key, value in flatten(config.to_dict()).items():
    if value is None:
      raise errors.ConfigError(f'config.{key} is None; give it a value (see the config file)')
  for key, value in _numbers(config, ''):
    if isinstance(value, float) and not math.isfinite(value):
      raise range_error(key.lstrip('.'), value, 'finite')
  if config.seed < 0:
    raise range_error('seed', config.seed, '>= 0')
  if config.get('num_devices', 0) < 0:
    raise range_error('num_devices', config.num_devices, '>= 0 (0: every device)')
  for key, value in _numbers(config.model, 'model'):
    if key.endswith('dropout'):
      if not 0.0 <= value < 1.0:
        raise range_error(key, value, 'in [0, 1)')
    elif key.endswith(OPTIONAL_COUNTS):
      if value < 0:
        raise range_error(key, value, '>= 0 (0: off)')
    elif value < 1:
      raise range_error(key, value, '>= 1')
  for key, value in _numbers(config.loss, 'loss'):
    least = 1 if key == 'loss.n_critic' else 0
    if value < least:
      raise range_error(key, value, f'>= {least}')
  for key, value in _numbers(config.optimizer, 'optimizer'):
    name = key.rsplit('.', 1)[-1]
    if name == 'learning_rate' and value <= 0:
      raise range_error(key, value, '> 0 (a negative rate climbs the loss)')
    if name in ('b1', 'b2') and not 0.0 <= value < 1.0:
      raise range_error(key, value, 'in [0, 1)')
    if value < 0:
      raise range_error(key, value, '>= 0')
  for name in ('size', 'load_size', 'channels'):
    if config.data.get(name, 1) < 1:
      raise range_error(f'data.{name}', config.data[name], '>= 1')
  if config.data.get('num_examples', 0) < 0:
    raise range_error('data.num_examples', config.data.num_examples, '>= 0 (0: all)')
  if 'channels' in config.data and config.data.channels not in (1, 3):
    raise range_error('data.channels', config.data.channels, '1 (grey) or 3 (RGB)')
  for name in ('interpolation_rows', 'interpolation_steps'):
    if config.eval.get(name, 1) < 1:
      raise range_error(f'eval.{name}', config.eval[name], '>= 1')


def lowered(config: ConfigDict) -> ConfigDict:
  """A copy of `config` after one more NaN rollback: both learning rates x `rollback_lr_factor`."""
  out = ConfigDict(config.to_dict())
  for who in ('g', 'd'):
    out.optimizer[who].learning_rate *= config.train.rollback_lr_factor
  out.train.rollbacks += 1
  return out


def adopt_rollbacks(config: ConfigDict, stored: dict) -> ConfigDict:
  """`config` resuming a run that rolled back: the stored learning rates and count carry on.

  Only with `on_nan='rollback'` and a stored count above the config's; else `config` as is.
  """
  done = stored.get('train', {}).get('rollbacks', 0)
  if config.train.on_nan != 'rollback' or done <= config.train.rollbacks:
    return config
  out = ConfigDict(config.to_dict())
  for who in ('g', 'd'):
    out.optimizer[who].learning_rate = stored['optimizer'][who]['learning_rate']
  out.train.rollbacks = done
  return out


def image_data(size, channels) -> ConfigDict:
  """A `data` section of images (the digits by default; TFDS or a folder by `source`).

  `size` and `channels` may be `FieldReference`s shared with the model section.
  """
  data = ConfigDict()
  data.source = 'digits'  # digits | mnist5k | tfds | folder
  data.name = ''  # TFDS dataset name
  data.split = 'train'
  data.data_dir = ''  # TFDS data_dir ('' : TFDS default)
  data.path = ''  # image folder
  data.skip_bad_files = False  # True: leave unreadable images out (counted in the log)
  data.image_key = 'image'
  data.label_key = 'label'  # a TFDS ClassLabel feature, if the dataset has it ('': none)
  data.size = size
  data.channels = channels
  data.random_flip = False
  # > 0: train on this many records only, the same ones in every run (small-data experiments;
  # evaluation still compares with the whole set); 0: all
  data.num_examples = 0
  data.num_threads = 4  # grain ReadOptions: threads reading ahead
  data.prefetch = 4  # batches read ahead
  data.workers = 0  # grain worker processes (mp_prefetch); 0: threads in this process
  return data


def eval_every(config: ConfigDict) -> int:
  """Steps between the game's metric evaluations: `config.eval.every`, else `train.sample_every`."""
  return config.eval.every or config.train.sample_every


def flatten(d: dict) -> dict[str, object]:
  """`{'a': {'b': 1}}` -> `{'a.b': 1}`; tuples become lists, as they come back from JSON."""
  flat = traverse_util.flatten_dict(d, sep='.')
  return {k: list(v) if isinstance(v, tuple) else v for k, v in flat.items()}


# Keys added after runs were stored, with the value that means "as before": a stored config
# without them resumes under that value.
ADDED_KEYS = {
  'num_seeds': 1,
  'loss.unroll': 0,
  'loss.r1_every': 1,
  'loss.diffaug': '',
  'model.pack': 1,
  'model.mbstd_group': 0,
  'model.d_maxout': 0,
  'model.d_norm': 'batch',
  'model.num_classes': 0,
  'model.cond_dim': 0,
  'model.d_cond': 'projection',
  'loss.aux_weight': 1.0,
  'model.d_arch': 'dcgan',
  'model.d_embed': 64,
  'loss.began_gamma': 0.5,
  'loss.began_lambda_k': 0.001,
  'model.g_bn_groups': 0,
  'model.init_std': 0.0,
  'data.num_examples': 0,
  'loss.simultaneous': False,
  'model.output': 'linear',
}


def experiment_differences(old: dict, new: dict) -> list[str]:
  """Keys (dotted) whose values differ between two config dicts, ignoring RESUMABLE_KEYS."""
  old_flat, new_flat = flatten(old), flatten(new)
  old_flat = {**{k: v for k, v in ADDED_KEYS.items() if k in new_flat}, **old_flat}
  resumable = lambda k: any(k == r or k.startswith(r + '.') for r in RESUMABLE_KEYS)
  keys = sorted(set(old_flat) | set(new_flat))
  return [k for k in keys if not resumable(k) and old_flat.get(k) != new_flat.get(k)]
