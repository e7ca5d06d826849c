"""StyleGAN2 with ADA on a folder of your images (sub-folders as classes if you set num_classes).

Command:
  python -m jaxgan.experiments.stylegan2 --config=experiments/stylegan2/folder.py \
      --config.data.path=/data/faces --config.model.size=64 --workdir=workdirs/sg2_faces
Expected: not measured here (no such folder on the development machine). ADA is meant for
small sets (a few thousand images): watch `ada_p` and the FID in TensorBoard.

The `cifar` settings (`jaxgan.games.stylegan2.base_config`) at the folder's size; add
`--config.evals.fid.type=quality ...` or evaluate afterwards with
`python -m jaxgan.experiments.evaluate --workdir=...`.
"""

from jaxgan import configs
from jaxgan.games import stylegan2


def get_config(arg=None):
  config = stylegan2.base_config()
  config.data.source = 'folder'
  config.data.random_flip = True
  return configs.finalize(config, arg)
