"""The training-time evaluators of `config.evals`: a registry of types, each with its schedule.

`config.evals = {name: section}`; each section's `type` names a class of
`EVALUATORS` ('quality': the metrics of `jaxgan.eval.quality`; 'stacked_modes':
Stacked MNIST's mode count). Values are logged as `<name>_<metric>`.
"""

import json
import os

import numpy as np
from absl import logging

from jaxgan import images
from jaxgan.errors import ConfigError
from jaxgan.eval import base, features, metrics
from jaxgan.eval.options import Options, check_metrics, feature_kind
from jaxgan.eval.quality import Evaluation, balanced_labels, format_table, generate


class Quality(base.Evaluator):
  """`config.evals.<name>` of type 'quality': the asked metrics of `n` samples, every `every` steps.

  Values are logged as `<name>_<metric>` (e.g. `classifier_fid`); the
  settings they were measured under go to `<workdir>/eval_settings.json`.
  The extractor and the reference features are built by `check` (before
  training starts) or on the first call.
  """

  def __init__(self, name: str, section, config, outputs: base.Outputs, game):
    self.name, self.every = name, section.get('every', 0)
    self.options = Options.from_config(section)
    self.options.progress = False
    self.options.seed = config.seed
    self.config, self.outputs, self.game = config, outputs, game
    check_metrics(self.options, feature_kind(self.options, config))  # before training starts
    self._evaluation: Evaluation | None = None
    self._last: tuple[int, dict] | None = None
    self._settings_written = False

  def check(self) -> None:
    if self._evaluation is None:
      self._evaluation = Evaluation(self.options, self.config)

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    if self._last is None or self._last[0] != step:  # the final call may follow one at `step`
      self._last = (step, self.measure(state))
    values = self._last[1]
    if final:
      logging.info(
        'Quality at step %d (%s):\n%s',
        step,
        self.name,
        format_table(values, self._evaluation.settings()),
      )
    else:
      logging.info(
        'step %d, %s: %s', step, self.name, ', '.join(f'{k} {v:.4g}' for k, v in values.items())
      )
    return {f'{self.name}_{k}': v for k, v in values.items()}

  def measure(self, state) -> dict[str, float]:
    self.check()
    if not self._settings_written:
      self._settings_written = True
      if self.outputs.is_main:
        path = os.path.join(os.path.dirname(self.outputs.sample_dir), 'eval_settings.json')
        existing = {}
        if os.path.exists(path):
          with open(path) as f:
            existing = json.load(f)
        existing[self.name] = self._evaluation.settings()
        with open(path, 'w') as f:
          json.dump(existing, f, indent=2)
    labels = balanced_labels(self.config, self.options.n)
    samples = generate(
      state,
      self.game,
      self.options.n,
      seed=self.config.seed + 0xE7A1,
      dp=self.outputs.dp,
      labels=labels,
    )
    return self._evaluation(samples, labels)[0]


class StackedModes(base.Evaluator):
  """`config.evals.<name>` of type 'stacked_modes': Stacked MNIST's mode count (PacGAN Table 2).

  Each of `n` samples (26,000 by default, as PacGAN and VEEGAN) has its three
  channels labelled by the MNIST-5k digit classifier (`jaxgan.classifier`);
  the digit triple is its mode (of 1,000). Logged: `<name>_modes` (modes
  with at least one sample) and `<name>_kl` (KL of the mode histogram to
  uniform, nats).
  """

  def __init__(self, name: str, section, config, outputs: base.Outputs, game):
    self.name, self.every = name, section.get('every', 0)
    self.n = section.get('n', 26_000)
    self.config, self.outputs, self.game = config, outputs, game
    if config.model.get('channels', 3) != 3:
      raise ConfigError(f'config.evals.{name}: stacked_modes needs 3-channel samples')
    self._extractor = None

  def check(self) -> None:
    if self._extractor is None:
      self._extractor = features.Classifier('mnist5k', path=self.config.data.get('path', ''))

  def labels(self, samples: np.ndarray) -> np.ndarray:
    """The mode (0..999) of each `[N, 28, 28, 3]` sample in [-1, 1]."""
    self.check()
    data = images.to_uint8(samples)
    digits = [
      self._extractor(data[..., c : c + 1], desc='samples')['logits'].argmax(-1) for c in range(3)
    ]
    return 100 * digits[0] + 10 * digits[1] + digits[2]

  def __call__(self, state, step: int, *, final: bool = False) -> dict[str, float]:
    del final
    samples = generate(state, self.game, self.n, seed=self.config.seed + 0x5AC, dp=self.outputs.dp)
    values = metrics.class_coverage(self.labels(samples), 1000)
    logging.info('step %d, %s: %d modes of 1000, KL %.3f', step, self.name, *values.values())
    return {f'{self.name}_modes': values['classes'], f'{self.name}_kl': values['class_kl']}


EVALUATORS = {'quality': Quality, 'stacked_modes': StackedModes}


def create_evaluators(config, outputs: base.Outputs, game) -> list:
  """The evaluators of `config.evals` (name -> section with a `type` of EVALUATORS)."""
  out = []
  for name, section in (config.get('evals') or {}).items():
    kind = section.get('type', '')
    if kind not in EVALUATORS:
      raise ConfigError(
        f'config.evals.{name}.type={kind!r} is unknown; known: {", ".join(EVALUATORS)}'
      )
    out.append(EVALUATORS[kind](name, section, config, outputs, game))
  return out
