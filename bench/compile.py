"""`make bench-compile`: time `selinonc check` on synthetic configurations of growing size."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.synthetic import TASKS_PER_FLOW, generate

SIZES = (25, 50, 100, 200)
# Selinon 1.4.0 parsing and checking the same shape on this kind of machine (issue 2).
PREDECESSOR_S = {25: 1.9, 50: 6.2, 100: 15.1, 200: 43.9}
RUNS = 3
OUT = Path(__file__).parent / "out"


def time_check(paths: list[Path]) -> float:
    """Median wall time of a whole `selinonc check` process (start-up included)."""
    cmd = [sys.executable, "-m", "selinonc.compiler", "check", *map(str, paths)]
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"selinonc check failed on the benchmark input:\n{done.stdout[-2000:]}")
    return statistics.median(times)


def main() -> None:
    print(f"selinonc check on N flows x {TASKS_PER_FLOW} tasks (median of {RUNS} runs)")
    header = f"{'N':>5} {'tasks':>7} {'selinonc s':>11} {'Selinon s':>10} {'speed-up':>9}"
    print(header + f" {'ms/1k tasks':>12}")
    for n in SIZES:
        paths = generate(n, OUT / f"n{n}")
        ours = time_check(paths)
        theirs = PREDECESSOR_S[n]
        tasks = n * TASKS_PER_FLOW
        print(
            f"{n:>5} {tasks:>7} {ours:>11.2f} {theirs:>10.1f} {theirs / ours:>8.1f}x"
            f" {ours * 1000 / (tasks / 1000):>12.1f}"
        )
    print("target: N = 200 under 2 s, growing linearly")


if __name__ == "__main__":
    main()
