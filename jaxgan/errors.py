"""Errors a user can fix: each message is one line that says what to change."""


class JaxganError(Exception):
  """Base class of the errors the entry points print as one line and exit on."""


class ConfigError(JaxganError, ValueError):
  """A config value is unknown, of the wrong type, or inconsistent."""


class DataError(JaxganError, ValueError):
  """A data source is missing, empty, unreadable or of the wrong shape."""


class CheckpointError(JaxganError):
  """A checkpoint is missing, or a workdir holds a different experiment."""


class NonFiniteError(JaxganError, FloatingPointError):
  """A loss or the state became NaN or inf; training stopped."""


class OutputError(JaxganError, OSError):
  """Metrics, samples or results could not be written (a full disk, permissions)."""


class WeightsError(JaxganError):
  """Network weights (Inception, a classifier) are missing, corrupt or of another network."""


class RunLockedError(JaxganError):
  """Another run holds the workdir."""
