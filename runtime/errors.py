"""The runtime's errors: one tree under SelinoncError, one docstring line per class."""

from __future__ import annotations


class SelinoncError(Exception):
    """The base of every error the selinonc runtime raises."""


class ConfigurationError(SelinoncError):
    """A generated package cannot be used in this deployment (e.g. a missing placeholder)."""


class PlaceholderError(ConfigurationError):
    """A `{VAR}` placeholder names an environment variable that is not set."""


class UnknownFlowError(SelinoncError):
    """A flow was asked for that the package does not define."""


class UnknownTaskError(SelinoncError):
    """A task was asked for that the package does not define."""


class UnknownStorageError(SelinoncError):
    """A storage was asked for that the package does not define."""


class FatalTaskError(SelinoncError):
    """Raised by a task to fail at once, without the retries `max_retry` allows."""


class Retry(SelinoncError):
    """Raised by `SelinonTask.retry()`: run the task again after `countdown` seconds."""

    def __init__(self, countdown: float = 0) -> None:
        super().__init__(f"retry in {countdown} s")
        self.countdown = countdown
