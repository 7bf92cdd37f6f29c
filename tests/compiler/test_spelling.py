""" "Did you mean" hints: difflib's closest match, found in time linear in the names checked."""

from __future__ import annotations

import difflib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selinonc.compiler.build import build
from selinonc.compiler.checks import run_checks
from selinonc.compiler.classify import classify
from selinonc.compiler.diagnostics import MAX_SUGGESTED_WORDS, Speller, closest
from selinonc.compiler.load import load_text
from selinonc.compiler.model import Project
from selinonc.compiler.source import SourceFile

_names = st.text(alphabet="abcTsk_01", max_size=9)


@settings(max_examples=500, deadline=None)
@given(word=_names, choices=st.lists(_names, max_size=30))
def test_the_closest_choice_is_difflibs(word: str, choices: list[str]) -> None:
    matches = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    assert closest(word, choices) == (matches[0] if matches else None)


def test_a_speller_answers_each_word_once_and_at_most_its_limit_of_words() -> None:
    speller = Speller(["Fetch", "Resize", "Upload"], limit=2)
    assert speller.closest("Fecth") == "Fetch"
    assert speller.closest("Resise") == "Resize"
    assert speller.closest("Uplaod") is None  # over the limit: no hint
    assert speller.closest("Fecth") == "Fetch"  # remembered
    assert speller.did_you_mean("Resise") == "did you mean 'Resize'?"


def _project(n: int, used: bool) -> Project:
    """Tasks Task0.. and a flow whose edges use Tsak0.., none defined; with `used`, another
    flow uses every task (else the unknown names are also matched against unused tasks)."""
    lines = ["tasks:", *(f"  - {{name: Task{i}, import: m}}" for i in range(n))]
    lines += ["flows: [bad, good]" if used else "flows: [bad]", "flow-definitions:"]
    lines += ["  - name: bad", "    edges:", "      - {from: [], to: Tsak0}"]
    lines += [f"      - {{from: Tsak{i}, to: Tsak{i + 1}}}" for i in range(n - 1)]
    if used:
        targets = ", ".join(f"Task{i}" for i in range(n))
        lines += ["  - name: good", "    edges:", f"      - {{from: [], to: [{targets}]}}"]
    doc, problems = load_text(SourceFile("flows.yaml", "\n".join(lines) + "\n"))
    assert doc is not None and not problems
    inputs, problems = classify([doc])
    assert inputs is not None and not problems
    return build(inputs.nodes, inputs.flows, ["flows.yaml"])


def _counting(monkeypatch: pytest.MonkeyPatch, method: str, counts: dict[str, int]) -> None:
    original: Callable[..., object] = getattr(difflib.SequenceMatcher, method)

    def spy(self: difflib.SequenceMatcher[str], *args: object) -> object:
        counts[method] += 1
        return original(self, *args)

    monkeypatch.setattr(difflib.SequenceMatcher, method, spy)


def _comparisons(monkeypatch: pytest.MonkeyPatch, n: int, used: bool) -> dict[str, int]:
    """How often the checks compare a name with a choice (set_seq1) and compute a ratio."""
    project = _project(n, used)
    counts = {"set_seq1": 0, "ratio": 0}
    with monkeypatch.context() as patch:
        _counting(patch, "set_seq1", counts)
        _counting(patch, "ratio", counts)
        found = list(run_checks(project))
    assert any(d.code == "SC205" for d in found)
    return counts


@pytest.mark.parametrize("used", [True, False], ids=["tasks-used", "tasks-unused"])
def test_hints_for_many_unknown_names_take_linear_work(
    monkeypatch: pytest.MonkeyPatch, used: bool
) -> None:
    # Given N unknown names, each close to one of N tasks: a hint per name compared each with
    # every task, N * N comparisons (4x the work for 2x the names)
    small = _comparisons(monkeypatch, 500, used)
    large = _comparisons(monkeypatch, 1000, used)
    # Then twice the names cost about twice the comparisons, not four times
    for method in ("set_seq1", "ratio"):
        assert large[method] < 2.5 * small[method], (method, small, large)
    assert large["set_seq1"] < 5 * MAX_SUGGESTED_WORDS * 1000


def test_only_the_first_names_over_the_limit_get_a_hint() -> None:
    found = [d for d in run_checks(_project(MAX_SUGGESTED_WORDS + 50, used=True))]
    hints = [d.hint for d in found if d.code == "SC205"]
    assert len(hints) == 2 * (MAX_SUGGESTED_WORDS + 50) - 1  # each name but the last twice
    suggested = [h for h in hints if h and h.startswith("did you mean")]
    assert len(suggested) == 2 * MAX_SUGGESTED_WORDS
    assert "did you mean 'Task7'?" in suggested
