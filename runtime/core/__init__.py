"""The pure scheduling core: `advance(system, state, event, read)` and the values it works on.

Nothing here does I/O (runtime/core/ruff.toml bans it): drivers read and write, the core decides.
"""
