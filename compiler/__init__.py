"""The selinonc compiler: YAML flow configurations to diagnostics and generated packages."""

from __future__ import annotations

__version__ = "0.1.0"
