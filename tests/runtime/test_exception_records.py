"""A failed task's exception, kept in the flow store for fallbacks (issue 10): a record names a
module and a class, and reading it never imports a module (as Celery since CVE-2021-23727)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from selinonc.runtime.celery.driver import _Exceptions
from selinonc.runtime.celery.memory_store import MemoryStore
from selinonc.runtime.celery.store import FlowMeta
from selinonc.runtime.celery.tasks import TaskFailure

FLOW = "0" * 32
NODE = f"{FLOW}.1"


class Refused(Exception):
    """An exception class of a module the worker has imported."""


@pytest.fixture
def exceptions() -> _Exceptions:
    store = MemoryStore()
    store.create(FLOW, FlowMeta("f", FLOW, None), {"state": {}})
    return _Exceptions(store)


def test_a_record_naming_a_module_not_imported_here_never_imports_it(
    exceptions: _Exceptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trap = tmp_path / "selinonc_trap_module.py"
    marker = tmp_path / "imported"
    trap.write_text(f"open({str(marker)!r}, 'w').close()\nclass Boom(Exception):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    exceptions.store.save_exception(
        FLOW,
        NODE,
        {"module": "selinonc_trap_module", "type": "Boom", "args": ["x"], "message": "x"},
    )
    rebuilt = exceptions[NODE]
    assert type(rebuilt) is TaskFailure
    assert str(rebuilt) == "Boom: x"  # the class's name is kept
    assert "selinonc_trap_module" not in sys.modules
    assert not marker.exists(), "reading the record imported the module"


def test_a_record_of_an_imported_class_is_rebuilt_as_that_class(exceptions: _Exceptions) -> None:
    exceptions[NODE] = Refused("no stock", 3)
    rebuilt = exceptions[NODE]
    assert type(rebuilt) is Refused and rebuilt.args == ("no stock", 3)


@pytest.mark.parametrize(
    "record",
    [
        {"module": "builtins", "type": "print", "args": [], "message": "m"},  # not a class
        {"module": "builtins", "type": "type", "args": ["x"], "message": "m"},  # not an error
        {"module": "os", "type": "system", "args": ["touch /tmp/x"], "message": "m"},
        {"module": "builtins", "type": "__import__.__self__", "args": [], "message": "m"},
        {"module": None, "type": None},
    ],
    ids=["function", "type", "os.system", "attribute path", "nothing"],
)
def test_a_record_that_names_no_exception_class_becomes_a_task_failure(
    exceptions: _Exceptions, record: dict[str, object]
) -> None:
    exceptions.store.save_exception(FLOW, NODE, record)
    assert type(exceptions[NODE]) is TaskFailure
