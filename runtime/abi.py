"""The runtime ABI: the version of the generated-package contract this runtime understands."""

from __future__ import annotations

# Bump when the tables generated packages build (selinonc.runtime.tables) change incompatibly.
# The compiler keeps its own copy (selinonc.compiler.lower.TARGET_ABI); a test keeps them equal.
RUNTIME_ABI = 2


class AbiMismatchError(ImportError):
    """A generated package was built for another version of the runtime's contract."""


def check_abi(package: str, abi: int) -> None:
    """Refuse a generated package built for another runtime ABI, saying how to fix it.

    Raises:
        AbiMismatchError: when `abi` is not `RUNTIME_ABI`.
    """
    if abi != RUNTIME_ABI:
        raise AbiMismatchError(
            f"the flow package {package!r} was generated for runtime ABI {abi}, but this "
            f"selinonc runtime implements ABI {RUNTIME_ABI}; rebuild the package with "
            "`selinonc build` from the same selinonc version the workers run"
        )
