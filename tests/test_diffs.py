"""Review diffs: a one-line edit of the YAML changes exactly the generated files whose meaning it
changes (issue 8.2). Built from a copy of the order-fulfilment example, as a team's CI would."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from selinonc.compiler.lower import DIGEST_SLOT
from tests.buildkit import EXAMPLES, selinonc

EXAMPLE = EXAMPLES / "order-fulfilment"
PACKAGE = Path("fulfilment") / "flowpkg"

NEW_EDGE = """
      - from: NotifyCustomerRefunded
        to: EmailReceipt
"""
NEW_FLOW = """
  - name: resend_receipt
    edges:
      - from: []
        to: EmailReceipt
"""


def _replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        text = (root / path).read_text()
        assert text.count(old) == 1, f"{old!r} is not once in {path}"
        (root / path).write_text(text.replace(old, new))

    return edit


def _prepend(path: str, line: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / path).write_text(line + (root / path).read_text())

    return edit


def _append(path: str, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / path).write_text((root / path).read_text() + text)

    return edit


def _both(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        for one in edits:
            one(root)

    return edit


# (the edit, the files of the package it may change and must change)
EDITS: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "a value in one flow": (
        _replace("flows.yaml", "value: 50000", "value: 60000"),
        {"flows/fulfil_order.py"},
    ),
    "a comment at the top of the flows file": (
        _prepend("flows.yaml", "# reviewed by the payments team\n"),
        {"origins.py"},
    ),
    "a comment at the end of the flows file": (
        _append("flows.yaml", "# end of the flows\n"),
        set(),
    ),
    "a comment at the top of the nodes file": (
        _prepend("nodes.yaml", "# owned by the shop team\n"),
        {"origins.py"},
    ),
    "a new edge at the end of a flow's edges": (
        _replace(
            "flows.yaml",
            "        to: NotifyCustomerRefunded\n",
            "        to: NotifyCustomerRefunded\n" + NEW_EDGE,
        ),
        {"flows/fulfil_order.py", "origins.py"},
    ),
    "a new flow": (
        _both(
            _append("flows.yaml", NEW_FLOW),
            _replace("nodes.yaml", "  - fulfil_order\n", "  - fulfil_order\n  - resend_receipt\n"),
        ),
        {"flows/__init__.py", "flows/resend_receipt.py", "origins.py"},
    ),
    "a task's retry count": (
        _replace("nodes.yaml", "max_retry: 3", "max_retry: 4"),
        {"tasks.py"},
    ),
    "a storage's configuration": (
        _replace(
            "nodes.yaml",
            "  - name: ShippingStore\n    import: selinonc.runtime.storages.memory\n"
            "    classname: InMemoryStorage\n    configuration:\n      echo: false",
            "  - name: ShippingStore\n    import: selinonc.runtime.storages.memory\n"
            "    classname: InMemoryStorage\n    configuration:\n      echo: true",
        ),
        {"storages.py"},
    ),
    "a default queue": (
        _replace("nodes.yaml", "default_task_queue: orders", "default_task_queue: shop"),
        {"settings.py", "tasks.py"},
    ),
}


def _built(root: Path) -> dict[str, bytes]:
    done = selinonc("build", ".", "-o", str(PACKAGE), cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    package = root / PACKAGE
    return {
        str(p.relative_to(package)): p.read_bytes()
        for p in sorted(package.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(root / PACKAGE)
    return root


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _built(_copy(tmp_path_factory.mktemp("diffs"), "original"))


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_one_line_edit_changes_exactly_the_files_whose_meaning_it_changes(
    name: str, original: dict[str, bytes], tmp_path: Path
) -> None:
    edit, expected = EDITS[name]
    root = _copy(tmp_path, "edited")
    edit(root)
    edited = _built(root)
    changed = {p for p in original.keys() | edited.keys() if original.get(p) != edited.get(p)}
    assert changed == expected


def _digest(text: bytes) -> bytes | None:
    found = re.search(rb'^DIGEST = "([0-9a-f]{64})"$', text, flags=re.MULTILINE)
    return None if found is None else found.group(1)


def test_each_module_digest_is_the_sha256_of_its_text_with_the_digest_blanked(
    original: dict[str, bytes],
) -> None:
    digests = {path: _digest(text) for path, text in original.items()}
    assert {p for p, d in digests.items() if d is not None} == {
        "settings.py",
        "storages.py",
        "tasks.py",
        *(p for p in original if p.startswith("flows/") and p != "flows/__init__.py"),
    }
    for path, digest in digests.items():
        if digest is not None:
            blanked = original[path].replace(digest, DIGEST_SLOT.encode())
            assert hashlib.sha256(blanked).hexdigest().encode() == digest, path


def test_no_module_but_origins_names_a_line_of_the_yaml(original: dict[str, bytes]) -> None:
    for path, text in original.items():
        lines = re.findall(rb"\.ya?ml:\d+", text)
        assert bool(lines) == (path == "origins.py"), path
