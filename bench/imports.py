"""`make bench-import`: time importing the package generated from the N = 200 configuration."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.synthetic import TASKS_PER_FLOW, generate

N_FLOWS = 200
RUNS = 7
OUT = Path(__file__).parent / "out" / "import"
PREDECESSOR_S = 44.0  # Selinon 1.4.0 worker start-up on the same configuration (issue 3)
TARGET_S = 0.5


def _write_user_code(root: Path) -> None:
    """The task and storage modules the synthetic configuration names (`myapp.*`)."""
    app = root / "myapp"
    app.mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    classes = "\n\n".join(
        f"class Step{j}(SelinonTask):\n    def run(self, node_args: object) -> object:\n"
        f"        return {{'status': 'ok', 'step': {j}}}\n"
        for j in range(TASKS_PER_FLOW)
    )
    (app / "tasks.py").write_text(f"from selinonc.runtime import SelinonTask\n\n\n{classes}")
    (app / "storages.py").write_text(
        "class ResultStorage:\n    def __init__(self, url: str) -> None:\n        self.url = url\n"
    )


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    inputs = generate(N_FLOWS, OUT / "yaml")
    _write_user_code(OUT)
    selinonc = [sys.executable, "-m", "selinonc.compiler", "build", *map(str, inputs)]
    build_s = _timed([*selinonc, "-o", str(OUT / "flowpkg")], OUT)
    files = sorted((OUT / "flowpkg").rglob("*.py"))
    size = sum(f.stat().st_size for f in files)
    check = f"import flowpkg; assert len(flowpkg.SYSTEM.tasks) == {N_FLOWS * TASKS_PER_FLOW}"
    # Without caches: every run compiles the sources (-B: and writes no cache for the next).
    for cache in OUT.rglob("__pycache__"):
        shutil.rmtree(cache)
    importing = [sys.executable, "-B", "-c", check]
    bare = [sys.executable, "-B", "-c", "import selinonc.runtime.tables"]
    cold = statistics.median(_timed(importing, OUT) for _ in range(RUNS))
    compiled = [sys.executable, "-c", check]
    # Bytecode caches, as a deployed worker has them (pip compiles installed packages; a
    # checked-out package gets them on its first import unless PYTHONDONTWRITEBYTECODE is set).
    _timed([sys.executable, "-m", "compileall", "-q", "flowpkg", "myapp"], OUT)
    warm = statistics.median(_timed(compiled, OUT) for _ in range(RUNS))
    runtime_only = statistics.median(_timed(bare, OUT) for _ in range(RUNS))
    tasks = N_FLOWS * TASKS_PER_FLOW
    print(f"import the package generated from {N_FLOWS} flows x {TASKS_PER_FLOW} tasks")
    print(f"  selinonc build: {build_s:.2f} s, {len(files)} files, {size / 1e6:.1f} MB")
    print(f"{'':34}{'seconds':>9}{'vs Selinon':>12}")
    for label, seconds in (
        ("python + selinonc.runtime only", runtime_only),
        ("import, no bytecode cache", cold),
        ("import, bytecode cached", warm),
    ):
        print(f"  {label:<32}{seconds:>9.3f}{PREDECESSOR_S / seconds:>11.0f}x")
    print(f"  Selinon 1.4.0 start-up (YAML)   {PREDECESSOR_S:>9.1f}")
    print(f"target: under {TARGET_S} s for {tasks:,} tasks, with bytecode cached as on a worker")


if __name__ == "__main__":
    main()
