"""Rewrite every golden case's expected.txt (`make golden`); review the diff before committing."""

from __future__ import annotations

import sys

from tests.golden import case_names, write_expected
from tests.stubs_path import use_stubs


def main(names: list[str]) -> None:
    use_stubs()  # as tests/conftest.py does: the cases' stand-in task modules import
    for name in names or case_names():
        write_expected(name)
        print(f"wrote tests/cases/{name}/expected.txt")


if __name__ == "__main__":
    main(sys.argv[1:])
