"""The command line: argument handling and the back-ends of `run`, `inspect` and `plot`."""

from __future__ import annotations

from selinonc.compiler.cli.app import main

__all__ = ["main"]
