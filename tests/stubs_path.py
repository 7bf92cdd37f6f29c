"""Put tests/stubs (stand-in task modules, see tests/stubs/stub_tasks.py) on the import path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

STUBS = Path(__file__).parent / "stubs"


def use_stubs() -> None:
    """Make the stubs importable in this process and in the `selinonc` processes tests start."""
    path = str(STUBS)
    if path not in sys.path:
        sys.path.append(path)  # last: a case's own modules (in its folder) come first
    parts = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if path not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (*parts, path) if p)
