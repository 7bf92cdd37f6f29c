"""The selinonc runtime: what generated flow packages and Celery workers import.

It never imports the compiler, PyYAML, jsonschema or Jinja2 (ruff's banned-api rule enforces it,
see runtime/ruff.toml), and importing it imports no Celery.
"""

from __future__ import annotations

from selinonc.runtime.abi import RUNTIME_ABI, AbiMismatchError
from selinonc.runtime.errors import (
    ConfigurationError,
    FatalTaskError,
    PlaceholderError,
    Retry,
    SelinoncError,
    UnknownFlowError,
    UnknownStorageError,
    UnknownTaskError,
)
from selinonc.runtime.task import SelinonTask

__all__ = [
    "RUNTIME_ABI",
    "AbiMismatchError",
    "ConfigurationError",
    "FatalTaskError",
    "PlaceholderError",
    "Retry",
    "SelinonTask",
    "SelinoncError",
    "UnknownFlowError",
    "UnknownStorageError",
    "UnknownTaskError",
]
