"""PacGAN's own 2-D protocol (Lin et al. 2018, Table 1), as the authors' code runs it.

Command (`ring` or `grid`; pack=1 is the GAN row, pack=2, 3, 4 PacGAN2-4; the
paper's 10 trials vmapped; `steps=N`, `lr=X` and `decay=F` (the learning rate
falling linearly to 0 over the last fraction F of the steps) change the
budget and schedule, for the remedies):
  python -m jaxgan.experiments.dcgan --config=experiments/toy2d/pacgan.py:grid,pack=4 \
    --config.num_seeds=10 --workdir=workdirs/pacgan_grid_pack4
Expected: the grid's plain GAN, seed 0, ended at 16 modes, 95.7% high quality,
reverse KL 0.56 (experiments/README.md, "PacGAN's own protocol"; the rest is not
measured yet). The published figures (modes / % high quality) are GAN 6.3 / 98.2
ring, 17.3 / 94.8 grid; PacGAN2 7.9 / 95.6, 23.8 / 91.3; PacGAN4 7.8 / 95.9,
24.8 / 93.6 (mean ± s.e. in experiments/README.md). Cost on this repo's 2-core
CPU (2026-12-05): one seed at pack 1 runs 93 steps/s with the machine to itself
(72 minutes for the 400,000 steps); beside another job, 23-38 steps/s for packs
1-4, and 10 seeds vmapped 2.6 steps/s at pack 1, 1.3-1.5 at pack 4: separate
single-seed runs are cheaper.

From fjxmlzn/PacGAN `synthetic_data_experiments/` (config.py,
2DGrid_GAN&PacGAN/pacgan_task.py, PacGAN/pacgan/{bricks,datasets,streams}.py)
and the ALI and Blocks code it runs on:
- G: z ~ N(0, I_2); 4 x (Linear 400, BatchNorm, ReLU), Linear 2. Blocks'
  BatchNorm (epsilon 1e-4; running mean and std, momentum 0.95). G runs once
  per pack slot, so each slot's 100 samples are normalised on their own
  (`model.g_bn_groups = pack`).
- D: 3 maxout layers of 200 units x 5 pieces, Linear 1; input the pack's m
  points concatenated on features (2m). Weights N(0, 0.02), biases 0, in G too.
- Non-saturating loss; Adam lr 1e-4, beta1 0.8, beta2 0.999 for both.
- Batch: 100 packs (100 m points, real and fake alike). Data: 100,000 points
  drawn once; each of m slots an independent resample of them with
  replacement; the 100,000 tuples reshuffled every epoch; 400 epochs of 1,000
  batches = 400,000 steps, for every m.
- Evaluation: 2,500 samples of G in inference mode; high quality within 3 std
  of the nearest mode (mode-coverage metrics every 10,000 steps and at the end).
- Updates simultaneous (`loss.simultaneous`): one D and one G update a step,
  both gradients taken from the same graph at the same parameters and applied
  together (ALI's `ali_algorithm`), not G against the updated D.
"""

from ml_collections import config_dict

from jaxgan import configs, schema
from jaxgan.games import gan

MIXTURES = ('ring', 'grid')
PACKS_PER_BATCH = 100
NUM_EXAMPLES = 100_000
EPOCHS = 400


def get_config(arg=None):
  parts = [p for p in (arg or '').split(',') if p]
  name, pack, rest = 'grid', 1, []
  steps, lr, decay = EPOCHS * NUM_EXAMPLES // PACKS_PER_BATCH, 1e-4, 0.0
  for part in parts:
    key, _, value = part.partition('=')
    if part in MIXTURES:
      name = part
    elif key == 'pack':
      pack = int(value)
    elif key == 'steps':
      steps = int(value)
    elif key == 'lr':
      lr = float(value)
    elif key == 'decay':
      decay = float(value)
    else:
      rest.append(part)
  config = gan.toy2d_config()
  config.data.name = name
  config.data.num_examples = NUM_EXAMPLES
  pack_ref = config_dict.FieldReference(pack)
  config.model.pack = pack_ref
  config.model.g_bn_groups = pack_ref
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.d_hidden = (200, 200, 200)
  config.model.d_maxout = 5
  config.model.init_std = 0.02
  config.loss.simultaneous = True
  config.optimizer = config_dict.ConfigDict(
    {'g': schema.adam(lr, 0.8, 0.999), 'd': schema.adam(lr, 0.8, 0.999)}
  )
  if decay:  # the last `decay` of the steps: the learning rate falls linearly to 0
    for who in ('g', 'd'):
      config.optimizer[who].constant_steps = steps - round(decay * steps)
      config.optimizer[who].decay_steps = round(decay * steps)
  config.train.batch_size = pack_ref * PACKS_PER_BATCH  # points; D sees 100 packs
  config.train.num_steps = steps
  config.train.log_every = 1000
  config.train.sample_every = 50_000
  config.train.checkpoint_every = 10_000
  config.eval.every = 10_000
  config = configs.finalize(config, ','.join(rest) or None)
  if 'smoke' in rest:  # 4 packs a batch, so any pack divides it
    config.train.batch_size = 4 * pack
  return config
