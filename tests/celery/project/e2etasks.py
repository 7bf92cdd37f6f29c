"""Tasks of the end-to-end project."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from selinonc.runtime import SelinonTask


def numbers(results: Any, node_args: Any) -> list[int]:
    """The foreach of `items`: one item per number below node_args["count"]."""
    return list(range(int(node_args["count"])))


def sets(results: Any, node_args: Any) -> list[set[int]]:
    """A foreach whose items cannot be JSON."""
    return [{1, 2}]


class Marker(SelinonTask):
    def run(self, node_args: Any) -> Any:
        (Path(os.environ["E2E_DIR"]) / f"marker-{self.task_id}").write_text(self.flow_name)


class Exits(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise SystemExit(3)


class Produce(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"produced": node_args, "by": self.task_id}


class Consume(SelinonTask):
    def run(self, node_args: Any) -> Any:
        parents = {
            name: self.parent_task_result(name)
            for name in self.parent
            if isinstance(self.parent[name], str)
        }
        return {"consumed": parents, "node_args": node_args}


class Item(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"square": int(self.task_id.rsplit(".", 1)[1]) ** 2}


class Collect(SelinonTask):
    def run(self, node_args: Any) -> Any:
        found: dict[str, Any] = {}
        for flow_name, nodes in self.parent.items():
            if isinstance(nodes, dict):
                found[flow_name] = {
                    task: [self.storage_of(task).retrieve(flow_name, task, i) for i in ids]
                    for task, ids in nodes.items()
                    if task in ("Item", "Consume")
                }
        return found

    def storage_of(self, task: str) -> Any:
        return self.storage  # Item, Consume and Collect share the Redis storage


class Flaky(SelinonTask):
    def run(self, node_args: Any) -> Any:
        marker = Path(os.environ["E2E_DIR"]) / f"flaky-{self.task_id}"
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        if attempts < 2:
            raise ConnectionError(f"attempt {attempts + 1} fails")
        return {"attempts": attempts + 1}


class Explode(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise ValueError("exploded on purpose")


class Recover(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"recovered_from": repr(self.parent_task_exception("Explode"))}


class Slow(SelinonTask):
    def run(self, node_args: Any) -> Any:
        marker = Path(os.environ["E2E_DIR"]) / "slow.pid"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # the test kills this process now
        return {"pid": os.getpid()}


class Noop(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None
