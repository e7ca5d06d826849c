"""Benchmarks of jaxgan's train steps and feature extraction, optionally beside PyTorch peers.

`python -m jaxgan.bench --help` lists the flags. What is where:

- `__main__`: the command: `parse_args`, `main(argv)` (returns the JSON
  summary it prints last) and what each mode prints.
- `configs`: the workloads: a config per `--model`, built from a game's base
  config as a user would, and synthetic batches of the step's shapes.
- `timing`: the real jitted train step, compiled and timed (`run_jaxgan`).
- `host`: host CPU time, page faults and peak memory (no JAX import).
- `profile`: where the time goes: a profiler trace of the step, its parts,
  one transposed convolution, D's convolutions' rates.
- `inception`: FID's Inception pool3 extraction (`--model=inception`).
- `peers`: the PyTorch side (`--vs-torch`) in a child process; its scripts
  are the repository's `benchmarks/torch_*.py`, found through `--peers=DIR`.

Importing this package imports no JAX: the PyTorch peers import
`peak_host_bytes` from it.
"""

from jaxgan.bench.host import peak_host_bytes

__all__ = ['peak_host_bytes']
