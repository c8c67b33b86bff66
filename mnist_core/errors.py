"""Errors a person can act on.

Every error that can reach a user (UI or command line) derives from `MnistError`; its message is
written for a person, names the thing at fault and says what to do. Anything else escaping the
engine is a bug.
"""

from __future__ import annotations


class MnistError(Exception):
    """Base class: the message is shown to the user as it is."""


class ConfigError(MnistError, ValueError):
    """A training configuration value is out of range or inconsistent."""


class DataError(MnistError):
    """An MNIST file is missing, corrupt, truncated or fails its checksum."""


class DataMissingError(DataError):
    """The MNIST files are not present in any searched folder (and were not downloaded)."""


class DownloadError(DataError):
    """Downloading MNIST failed (offline, mirror down, checksum mismatch)."""


class CheckpointError(MnistError):
    """A checkpoint file cannot be read, is unsafe, or does not match its architecture."""


class ImageError(MnistError):
    """An uploaded or drawn image cannot be used."""


class ModelError(MnistError, KeyError):
    """Unknown model name or invalid model options."""

    def __str__(self) -> str:  # KeyError would repr() the message; show it as written.
        return str(self.args[0]) if self.args else ""


class ExplainError(MnistError, ValueError):
    """A look inside a model cannot be made as asked (unknown method, layer or class, or a
    method the architecture does not support)."""


class TimelineError(CheckpointError):
    """A training timeline (the snapshots kept beside a checkpoint) cannot be read or does not
    belong to its checkpoint; the model itself still works, without a timeline."""
