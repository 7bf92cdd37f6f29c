"""`selinonc inspect` and `selinonc plot` on the examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.buildkit import EXAMPLES, ROOT, selinonc
from tests.test_plot import require_dot

FULFILMENT = EXAMPLES / "order-fulfilment"


def test_inspect_lists_queues_like_the_predecessor() -> None:
    done = selinonc("inspect", ".", "--task-queues", cwd=FULFILMENT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ChargePayment:payments"
    assert "ValidateOrder:orders" in lines  # the global default_task_queue
    assert len(lines) == 15
    flows = selinonc("inspect", ".", "--dispatcher-queues", cwd=FULFILMENT).stdout.splitlines()
    assert flows == [
        "fulfil_order:order_dispatchers",
        "reserve_line_item:order_dispatchers",
        "reserve_stock:order_dispatchers",
        "ship_order:shipping_dispatchers",  # its own `queue`
    ]


def test_inspect_keeps_placeholders_as_written() -> None:
    done = selinonc("inspect", ".", "--task-queues", cwd=EXAMPLES / "package-analysis")
    assert "RebuildArchive:{DEPLOYMENT_PREFIX}_builders" in done.stdout.splitlines()


def test_inspect_json_has_every_section() -> None:
    done = selinonc("inspect", ".", "--json", cwd=FULFILMENT)
    data = json.loads(done.stdout)
    assert list(data) == ["task_queues", "dispatcher_queues", "tasks", "flows", "storages"]
    charge = next(t for t in data["tasks"] if t["name"] == "ChargePayment")
    assert charge == {
        "name": "ChargePayment",
        "import": "fulfilment.tasks",
        "class": "ChargePayment",
        "queue": "payments",
        "storage": "PaymentStore",
        "storage_readonly": False,
        "storage_task_name": "payment",
        "max_retry": 3,
        "retry_countdown": 30,
        "throttling": {"seconds": 1},
        "output_schema": None,
        "flows": ["fulfil_order"],
    }
    fulfil = next(f for f in data["flows"] if f["name"] == "fulfil_order")
    assert fulfil["subflows"] == ["reserve_stock", "ship_order"]
    assert fulfil["edges"] == 8 and fulfil["failures"] == 3
    store = next(s for s in data["storages"] if s["name"] == "PaymentStore")
    assert store["tasks"] == ["ChargePayment", "RefundPayment"]


def test_inspect_of_a_broken_configuration_prints_diagnostics_and_exits_1() -> None:
    case = Path(__file__).parent / "cases" / "SC205-unknown-node"
    done = selinonc("inspect", "inputs", cwd=case)
    assert done.returncode == 1
    assert "error[SC205]" in done.stdout


def test_plot_writes_dot_text_with_every_element(tmp_path: Path) -> None:
    done = selinonc("plot", ".", "-o", str(tmp_path), "--format", "dot", cwd=FULFILMENT)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fulfil_order.dot",
        "reserve_line_item.dot",
        "reserve_stock.dot",
        "ship_order.dot",
    ]
    dot = (tmp_path / "fulfil_order.dot").read_text()
    assert dot.startswith("digraph fulfil_order {")
    assert "reserve_stock [label=reserve_stock" in dot and "shape=box3d" in dot  # a sub-flow
    assert "_sc_storage_PaymentStore [label=PaymentStore" in dot and "shape=cylinder" in dot
    assert "ChargePayment -> _sc_storage_PaymentStore [arrowhead=none constraint=false" in dot
    assert 'and fieldGreater(key=\\"total_cents\\",\\l      value=50000)\\l' in dot  # wrapped
    assert "ChargePayment -> NotifyPaymentFailed" in dot and "style=dashed" in dot  # fallback
    foreach = (tmp_path / "reserve_stock.dot").read_text()
    assert "foreach fulfilment.foreach.order_lines" in foreach
    assert 'style="filled,diagonals"' in foreach
    again = tmp_path / "again"
    selinonc("plot", ".", "-o", str(again), "--format", "dot", cwd=FULFILMENT)
    assert (again / "fulfil_order.dot").read_text() == dot  # deterministic


def test_plot_renders_svg_with_dot(tmp_path: Path) -> None:
    require_dot()
    done = selinonc("plot", ".", "-o", str(tmp_path), cwd=FULFILMENT)
    assert done.returncode == 0, done.stderr
    svg = (tmp_path / "fulfil_order.svg").read_text()
    assert "<svg" in svg and "ChargePayment" in svg


def test_plot_without_dot_writes_dot_text_and_says_so(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(Path(sys.executable))
    env = {"PATH": str(bare)}
    done = selinonc("plot", ".", "-o", str(tmp_path / "out"), cwd=FULFILMENT, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "fulfil_order.dot").exists()
    assert "`dot` program is not installed, so DOT text was written instead of SVG" in done.stderr


def test_a_style_file_restyles_and_an_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    style = tmp_path / "style.yaml"
    style.write_text("task:\n  fillcolor: '#ff0000'\n")
    done = selinonc(
        "plot", ".", "-o", str(tmp_path), "--format", "dot", "--style", str(style), cwd=FULFILMENT
    )
    assert done.returncode == 0
    assert 'fillcolor="#ff0000"' in (tmp_path / "ship_order.dot").read_text()
    style.write_text("tasks:\n  fillcolor: red\n")
    bad = selinonc("plot", ".", "-o", str(tmp_path), "--style", str(style), cwd=FULFILMENT)
    assert bad.returncode == 2
    assert "unknown style section 'tasks'" in bad.stderr and "Traceback" not in bad.stderr


def test_plot_problems_are_errors_not_tracebacks(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    done = selinonc("plot", ".", "-o", str(not_a_dir), "--format", "dot", cwd=FULFILMENT)
    assert done.returncode == 1 and "cannot write to" in done.stderr
    style = tmp_path / "style.yaml"
    style.write_text("task:\n  label: mine\n")
    done = selinonc("plot", ".", "-o", str(tmp_path), "--style", str(style), cwd=FULFILMENT)
    assert done.returncode == 2 and "sets `label`, which selinonc writes" in done.stderr
    for result in (done,):
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("path", "module", "banned"),
    [
        ("runtime/pool.py", "yaml", True),
        ("runtime/pool.py", "time", False),
        ("runtime/core/advance.py", "yaml", True),
        ("runtime/core/advance.py", "redis", True),
        ("runtime/core/advance.py", "time", True),
        ("runtime/core/advance.py", "threading", True),
        ("runtime/core/advance.py", "importlib", True),
        ("runtime/core/advance.py", "selinonc.runtime.celery.store", True),
        ("runtime/core/advance.py", "itertools", False),
    ],
)
def test_ruff_keeps_the_runtime_light_and_the_core_pure(
    path: str, module: str, banned: bool
) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "check", "--select", "TID251", "--stdin-filename", path, "-"],
        input=f"import {module}\n\nprint({module.split('.')[0]})\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert ("TID251" in done.stdout) == banned, done.stdout + done.stderr
