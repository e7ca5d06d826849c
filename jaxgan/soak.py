"""A soak: a long run of a small config, watching the trainer's memory, open files and threads.

  python -m jaxgan.soak                                   # 20k steps of the 2-D ring
  python -m jaxgan.soak --config=experiments/dcgan/digits.py:smoke --steps=5000 --every=250

Runs the real trainer (the config's entry point) in a child process with
checkpoints and evaluations every `--every` steps, and samples its resident
memory (VmRSS), open file descriptors and threads from /proc once per
`--interval` seconds (Linux only). Prints a row per tenth of the run and, over
the run after its first quarter (start-up, compilation, first allocations),
the growth of each figure from the second quarter to the last.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _sample(pid: int) -> dict[str, float] | None:
  try:
    with open(f'/proc/{pid}/status') as f:
      status = dict(line.split(':', 1) for line in f if ':' in line)
    fds = len(os.listdir(f'/proc/{pid}/fd'))
  except (FileNotFoundError, ProcessLookupError):
    return None
  if 'VmRSS' not in status:  # exited, not yet reaped (a zombie has no memory figures)
    return None
  return {
    'rss_mib': int(status['VmRSS'].split()[0]) / 1024,
    'fds': fds,
    'threads': int(status['Threads']),
  }


def _step(workdir: str) -> int:
  try:
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
      lines = f.read().splitlines()
  except FileNotFoundError:
    return 0
  return json.loads(lines[-1])['step'] if lines else 0


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--config', default='experiments/toy2d/ring.py')
  parser.add_argument('--entry', default='jaxgan.experiments.dcgan')
  parser.add_argument('--steps', type=int, default=20_000)
  parser.add_argument('--every', type=int, default=500, help='steps between checkpoints/evals')
  parser.add_argument('--interval', type=float, default=1.0, help='seconds between samples')
  parser.add_argument('--workdir', default='')
  parser.add_argument('--json', default='', help='also write the samples here')
  args = parser.parse_args(argv)
  if not os.path.isdir('/proc/self/fd'):
    sys.exit('error: the soak reads /proc (Linux only)')
  workdir = args.workdir or tempfile.mkdtemp(prefix='jaxgan-soak-')
  os.makedirs(workdir, exist_ok=True)
  command = [
    sys.executable,
    '-m',
    args.entry,
    f'--config={args.config}',
    f'--workdir={workdir}',
    f'--config.train.num_steps={args.steps}',
    f'--config.train.checkpoint_every={args.every}',
    f'--config.train.sample_every={args.every}',
    f'--config.train.log_every={max(1, args.every // 5)}',
    '--config.train.progress=False',
  ]
  print(' '.join(command[2:]))
  log = open(os.path.join(workdir, 'soak.log'), 'w+')  # noqa: SIM115 - a file, not a pipe:
  proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)  # never fills up
  started, samples = time.time(), []
  while proc.poll() is None:
    sample = _sample(proc.pid)
    if sample:
      samples.append({'t': time.time() - started, 'step': _step(workdir), **sample})
    time.sleep(args.interval)
  log.seek(0)
  errors = log.read()
  log.close()
  if proc.returncode:
    print(errors[-3000:])
    return proc.returncode
  print(f'{args.steps} steps in {time.time() - started:.0f} s, {len(samples)} samples')
  print(f'{"t (s)":>7} {"step":>7} {"RSS (MiB)":>10} {"fds":>5} {"threads":>8}')
  for sample in samples[:: max(1, len(samples) // 10)]:
    print(
      f'{sample["t"]:7.0f} {sample["step"]:7d} {sample["rss_mib"]:10.1f} '
      f'{sample["fds"]:5d} {sample["threads"]:8d}'
    )
  n = len(samples)
  second, last = samples[n // 4 : n // 2], samples[3 * n // 4 :]
  if second and last:
    for key in ('rss_mib', 'fds', 'threads'):
      a, b = (
        statistics.median_high([s[key] for s in second]),
        statistics.median_high([s[key] for s in last]),
      )
      after = [s[key] for s in samples[n // 4 :]]
      print(
        f'{key}: median {a:.1f} in the second quarter, {b:.1f} in the last '
        f'({b - a:+.1f}); range after the first quarter {min(after):.1f}-{max(after):.1f}'
      )
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'command': command[2:], 'samples': samples}, f)
  return 0


if __name__ == '__main__':
  sys.exit(main())
