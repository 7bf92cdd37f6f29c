"""Caches of task results (per storage): the predecessor's five kinds.

A flow's `cache` (the predecessor's cache of node states) is accepted and compiled, but the
event-driven runtime has no node states to look up, so nothing reads it.

`add(item_id, item, task_name=None, flow_name=None)` and `get(item_id, ...)`, which raises
`CacheMissError` on a miss. A `max_cache_size` of 0 turns a cache off (adding keeps nothing).
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from typing import Any

from selinonc.runtime.errors import SelinoncError


class CacheMissError(SelinoncError):
    """The item is not in the cache."""


class Cache:
    """A bounded cache; subclasses choose what to evict when it is full."""

    def __init__(self, max_cache_size: int = 0) -> None:
        if not isinstance(max_cache_size, int) or max_cache_size < 0:
            raise ValueError(
                f"max_cache_size must be a non-negative integer, not {max_cache_size!r}"
            )
        self.max_cache_size = max_cache_size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _evict(self) -> None:
        """Drop one item (the cache is full)."""
        self._items.popitem(last=False)

    def _touch(self, item_id: str) -> None:
        """Note a hit (LRU and MRU reorder)."""

    def add(
        self, item_id: str, item: Any, task_name: str | None = None, flow_name: str | None = None
    ) -> None:
        """Keep `item`, evicting another when the cache is full."""
        if self.max_cache_size == 0:
            return
        with self._lock:
            if item_id not in self._items and len(self._items) >= self.max_cache_size:
                self._evict()
            self._items[item_id] = item

    def get(self, item_id: str, task_name: str | None = None, flow_name: str | None = None) -> Any:
        """The cached item.

        Raises:
            CacheMissError: when it is not cached.
        """
        with self._lock:
            try:
                item = self._items[item_id]
            except KeyError:
                raise CacheMissError(item_id) from None
            self._touch(item_id)
            return item

    def __len__(self) -> int:
        return len(self._items)


class FIFO(Cache):
    """Evicts the oldest item."""


class LIFO(Cache):
    """Evicts the newest item."""

    def _evict(self) -> None:
        self._items.popitem(last=True)


class LRU(Cache):
    """Evicts the least recently used item."""

    def _touch(self, item_id: str) -> None:
        self._items.move_to_end(item_id)


class MRU(Cache):
    """Evicts the most recently used item."""

    def _touch(self, item_id: str) -> None:
        self._items.move_to_end(item_id)

    def _evict(self) -> None:
        self._items.popitem(last=True)


class RR(Cache):
    """Evicts a random item."""

    def _evict(self) -> None:
        del self._items[random.choice(list(self._items))]
