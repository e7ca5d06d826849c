"""Everything that measures a generator.

- `options`: `Options`, what one evaluation computes (the single source of its defaults).
- `base`: the evaluator interface (`Evaluator`) and where evaluators write (`Outputs`).
- `evaluators`: the training-time evaluators of `config.evals` ('quality', 'stacked_modes').
- `quality`: one measurement: samples, features, metrics and their conditions.
- `references`: reference sets and their cached features.
- `features`: feature extractors (FID's Inception with two resizes, digit classifiers, raw).
- `inception`: the FID InceptionV3 port and its weights; `torch_pickle`: reading them
  without PyTorch.
- `classifier`: the small digit classifiers (features and labels on digits).
- `metrics`: FID, KID, IS, precision/recall, density/coverage, as pure functions of features.
- `offline`: `evaluate_workdir`, the evaluation of a trained workdir (the only part that
  knows the games).
"""
