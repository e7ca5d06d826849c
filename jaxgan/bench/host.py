"""What a benchmark run costs its host: peak resident memory, CPU time and page faults per step.

Standard library only, no JAX: the PyTorch peers (`benchmarks/torch_common.py`)
measure their own side with `peak_host_bytes` too.
"""

import resource


def peak_host_bytes() -> int:
  """This process's peak resident memory (VmHWM; ru_maxrss survives fork+exec on Linux)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def usage() -> resource.struct_rusage:
  """This process's resource usage now (pass two of them to `host_cost`)."""
  return resource.getrusage(resource.RUSAGE_SELF)


def host_cost(before, after, steps: int) -> dict[str, float]:
  """Per step: host CPU seconds (user, system) and minor page faults of this process.

  XLA:CPU allocates a step's scratch memory (its temp buffer) on every call;
  glibc serves a block over 32 MiB with a fresh mmap, so each step faults its
  pages in again (benchmarks/README.md: 'Page faults').

  Args:
    before: `usage()` before the steps.
    after: `usage()` after them.
    steps: how many steps ran in between.

  Returns:
    `cpu_user_s_per_step`, `cpu_sys_s_per_step` and `page_faults_per_step`.
  """
  return {
    'cpu_user_s_per_step': round((after.ru_utime - before.ru_utime) / steps, 4),
    'cpu_sys_s_per_step': round((after.ru_stime - before.ru_stime) / steps, 4),
    'page_faults_per_step': round((after.ru_minflt - before.ru_minflt) / steps),
  }
