"""An offline stand-in for a package registry and its download mirror.

Metadata lives in `data/registry.json`; archives live in `data/mirror/<filename>.json`, each a
mapping of file path to file text. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


class ArchiveNotMirrored(LookupError):
    """The mirror has no archive of that name."""


def lookup(ecosystem: str, name: str, version: str) -> dict[str, Any] | None:
    """The registry's metadata of one release, or None if the registry does not know it."""
    registry = json.loads((DATA_DIR / "registry.json").read_text(encoding="utf-8"))
    release: dict[str, Any] | None = registry.get(ecosystem, {}).get(name, {}).get(version)
    return release


def fetch_archive(filename: str) -> dict[str, str]:
    """The files of an archive as the mirror serves them.

    Raises:
        ArchiveNotMirrored: the mirror has no such archive.
    """
    path = DATA_DIR / "mirror" / f"{filename}.json"
    if "/" in filename or not path.is_file():
        raise ArchiveNotMirrored(filename)
    files: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return files


def archive_digest(files: dict[str, str]) -> str:
    """SHA-256 of an archive's content: every path and text, in path order."""
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return sha.hexdigest()


def package_label(node_args: dict[str, Any]) -> str:
    """`ecosystem/name@version`, the way reports name a package."""
    return f"{node_args['ecosystem']}/{node_args['name']}@{node_args['version']}"
