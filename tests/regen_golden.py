"""Rewrite every golden case's expected.txt (`make golden`); review the diff before committing."""

from __future__ import annotations

import sys

from tests.golden import case_names, write_expected


def main(names: list[str]) -> None:
    for name in names or case_names():
        write_expected(name)
        print(f"wrote tests/cases/{name}/expected.txt")


if __name__ == "__main__":
    main(sys.argv[1:])
