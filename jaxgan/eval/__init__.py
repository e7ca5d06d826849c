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
- `conditional_metrics`: of class-conditional generators: intra-class FID and the
  classification accuracy score (CAS).
- `offline`: `evaluate_workdir`, the evaluation of a trained workdir (the only part that
  knows the games, with `sets`).
- `compare`: `fid(a, b)`, FID between any two sets (`python -m jaxgan.fid`), exported here as
  `jaxgan.eval.fid`; `sets`: the sets it reads (folders, TFDS, a workdir's samples) and
  measuring them on several devices and hosts; `stats`: FID statistics gathered over
  processes, and their `.npz` files (pytorch-fid's and clean-fid's format).
"""


def __getattr__(name: str):
  # `jaxgan.eval.fid` without importing the games on `import jaxgan.eval.base` (the games
  # import `base`; `compare` imports the checkpoint and the games).
  if name == 'fid':
    from jaxgan.eval.compare import fid

    return fid
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
