"""A storage and task class for the injection tests: it keeps the arguments it was created with."""

from __future__ import annotations

from typing import Any


class Recorder:
    """Records its constructor arguments, so a test can compare them with the YAML."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def run(self, node_args: Any) -> Any:
        """Lets the tests use it as a task class too (`selinonc check` wants a `run`)."""
        return node_args
