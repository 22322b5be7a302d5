"""Errors a user can fix. The CLI prints them as one line, without a traceback."""


class VlastackError(Exception):
    """Base class: the message names the field, file or value and says what was expected."""


class ConfigError(VlastackError, ValueError):
    """A configuration or command-line value is invalid."""


class DatasetError(VlastackError):
    """A dataset file is missing, corrupt or does not match what was asked of it."""


class CheckpointError(VlastackError):
    """A checkpoint directory is missing files, corrupt, or belongs to another model."""
