"""The task API: user tasks subclass SelinonTask and implement run(node_args)."""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from typing import Any

from selinonc.runtime.errors import Retry


class SelinonTask(abc.ABC):
    """A task of a flow, run by a worker or by the embedded executor.

    Code written for the predecessor ports by changing its imports: the constructor arguments,
    attributes and `run(node_args)` are the same.
    """

    def __init__(
        self,
        flow_name: str,
        task_name: str,
        parent: Mapping[str, Any] | None,
        task_id: str,
        dispatcher_id: str,
    ) -> None:
        self.flow_name = flow_name
        self.task_name = task_name
        self.parent: Mapping[str, Any] = parent or {}
        self.task_id = task_id
        self.dispatcher_id = dispatcher_id
        self.log = logging.getLogger(type(self).__module__ + "." + type(self).__qualname__)

    @abc.abstractmethod
    def run(self, node_args: Any) -> Any:
        """Do the task's work on the flow's arguments; the return value is its result."""

    @staticmethod
    def retry(countdown: float = 0) -> None:
        """Run this task again after `countdown` seconds (not counted against `max_retry`).

        Raises:
            Retry: always; the runtime catches it.
        """
        raise Retry(countdown)
