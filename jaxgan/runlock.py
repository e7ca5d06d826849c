"""One run per workdir: a lock held for the run's lifetime, naming its holder.

`WORKDIR/run.lock` is locked with `fcntl.flock` while a run trains there
(process 0 of a multi-process run holds it for all). The kernel releases the
lock when its holder exits, however it exits, so a killed run never blocks
the next one; the file keeps the holder's pid, host and start time while it
runs (emptied when the run ends), so a second run is refused in one line
naming them, and a run that finds the record of a holder that is gone
(killed with -9, its machine rebooted) says in one line that it takes
over. A second run that is refused creates, writes and truncates nothing.
"""

import datetime
import fcntl
import json
import os
import socket

from absl import logging

from jaxgan.errors import RunLockedError

LOCK_NAME = 'run.lock'


def _describe(holder: dict) -> str:
  return (
    f'pid {holder.get("pid", "?")} on {holder.get("host", "?")}, since {holder.get("since", "?")}'
  )


class RunLock:
  """`with RunLock(workdir):` trains alone in `workdir`, or raises RunLockedError at once."""

  def __init__(self, workdir: str):
    self.workdir = os.path.abspath(workdir)
    self.path = os.path.join(self.workdir, LOCK_NAME)
    self._fd: int | None = None

  def _read(self, fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
      return json.loads(os.read(fd, 4096).decode() or '{}')
    except (ValueError, UnicodeDecodeError):
      return {}

  def acquire(self) -> 'RunLock':
    """Takes the lock; raises RunLockedError naming the holder when another run has it."""
    if os.path.exists(self.path):  # a second run must not create or truncate anything
      fd = os.open(self.path, os.O_RDWR)
    else:
      os.makedirs(self.workdir, exist_ok=True)
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = self._read(fd)
      os.close(fd)
      raise RunLockedError(
        f'{self.workdir} is in use by another run ({_describe(holder)}); wait for it to '
        'finish, stop it, or use another --workdir'
      ) from None
    previous = self._read(fd)  # a finished run empties it: a record is a run that was killed
    if previous:
      logging.warning(
        'Taking over %s from a run that did not finish (%s).', self.path, _describe(previous)
      )
    record = {
      'pid': os.getpid(),
      'host': socket.gethostname(),
      'since': datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds'),
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode())
    os.fsync(fd)
    self._fd = fd
    return self

  def release(self) -> None:
    """Empties the holder's record and releases the lock."""
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self) -> 'RunLock':
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()
