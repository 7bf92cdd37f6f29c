"""Every example scenario runs to the outcome it pins, inline and on four worker threads."""

from __future__ import annotations

import pytest

from tests.buildkit import EXAMPLE_ENV
from tests.scenarios import load, mismatches, observed, run, scenarios


@pytest.fixture(autouse=True)
def _deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize(("example", "name"), scenarios())
def test_the_scenario_runs_as_its_file_says(example: str, name: str, workers: int) -> None:
    report, executor = run(example, name, workers=workers)
    expect = load(example, name)["expect"]
    assert mismatches(expect, observed(report, executor)) == []


def test_there_are_scenarios_of_success_and_failure_in_every_example() -> None:
    outcomes: dict[str, set[str]] = {}
    for example, name in scenarios():
        outcomes.setdefault(example, set()).add(load(example, name)["expect"]["outcome"])
    assert outcomes == {e: {"succeeded", "failed"} for e in outcomes}
    assert len(scenarios()) >= 20
