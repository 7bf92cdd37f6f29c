"""Foreach functions of the image pipeline (`f(storage_pool, node_args) -> iterable`)."""

from __future__ import annotations

from typing import Any


def thumbnail_jobs(storage_pool: Any, node_args: dict[str, Any]) -> list[dict[str, Any]]:
    """One `render_thumbnail` sub-flow per thumbnail size that `ExtractMetadata` kept.

    The edge has `propagate_result: true`, so each item becomes the node_args of one
    sub-flow: the size to render plus the decoded image itself.
    """
    metadata = storage_pool.get("ExtractMetadata")
    image = {key: node_args[key] for key in ("image_id", "width", "height", "max_value", "pixels")}
    return [{**image, "size": size} for size in metadata["thumbnail_sizes"]]
