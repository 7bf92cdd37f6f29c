"""Result storages: the predecessor's `DataStorage` interface, and the built-in storages."""

from __future__ import annotations

import abc
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class DataStorage(abc.ABC):
    """Where task results go. One instance per process, connected on first use.

    Subclasses implement `connect`, `is_connected`, `disconnect`, `retrieve` and `store`;
    `store_error` and `delete` are optional. Code written for the predecessor's `DataStorage`
    ports by changing its import.
    """

    def __init__(self, **configuration: Any) -> None:
        del configuration

    @abc.abstractmethod
    def connect(self) -> None:
        """Connect to the storage (called once, before the first use)."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """True when connected."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Disconnect."""

    @abc.abstractmethod
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result task `task_id` stored."""

    @abc.abstractmethod
    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store a task's result; return where it went (a record id, a path, ...)."""

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        """Record a task's final failure (optional: the default records nothing)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement store_error()")

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete a stored result (optional)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement delete()")


def safe_url(url: str) -> str:
    """A URL with its password hidden, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
