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


class TaskClassError(FatalTaskError):
    """A task's class is not one a driver can run (a function, a class without `run`)."""


class Retry(SelinoncError):
    """Raised by `SelinonTask.retry()`: run the task again after `countdown` seconds."""

    def __init__(self, countdown: float = 0) -> None:
        super().__init__(f"retry in {countdown} s")
        self.countdown = countdown


class StorageError(SelinoncError):
    """A storage could not store or retrieve a result (the step that needed it is retried)."""


class NoParentNodeError(SelinoncError):
    """A task asked for the result of a node that is not its parent."""


class RequestError(SelinoncError):
    """A task asked for the exception of a parent that did not fail."""


class OutputSchemaError(SelinoncError):
    """A task's result does not satisfy its `output_schema` (counted like any task exception)."""
