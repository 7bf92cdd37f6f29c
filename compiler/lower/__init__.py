"""Stage `lower`: the model to an emit plan (sorted tables, allocated names, rendered literals)."""

from __future__ import annotations

from selinonc.compiler.lower.package import DIGEST_SLOT, TARGET_ABI, PlannedFile, lower

__all__ = ["DIGEST_SLOT", "TARGET_ABI", "PlannedFile", "lower"]
