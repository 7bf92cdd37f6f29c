"""Property tests: whatever the input, the compiler answers with diagnostics, never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selinonc.compiler import pipeline, schema
from selinonc.compiler.diagnostics import render
from selinonc.compiler.load import load_text
from selinonc.compiler.source import SourceFile

SEED = Path(__file__).parent / "fixtures" / "full.yaml"
SEED_TEXT = SEED.read_text()
SEED_DATA: dict[str, Any] = yaml.safe_load(SEED_TEXT)

WEIRD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["", "Fetch", "sub", "main", "Results", "__x", "a-b"]),
    st.lists(st.sampled_from(["Fetch", "Parse", "sub", "x", ""]), max_size=4),
    st.dictionaries(
        st.sampled_from(["name", "args", "and", "or", "not", "import"]),
        st.sampled_from([None, "x", 1, [], {}]),
        max_size=3,
    ),
)


def _containers(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every dict and list in `data`."""
    out: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        out.append(path)
        for k, v in data.items():
            out += _containers(v, (*path, k))
    elif isinstance(data, list):
        out.append(path)
        for i, v in enumerate(data):
            out += _containers(v, (*path, i))
    return out


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The seed configuration with 1 to 4 random edits: deletions, replacements, renames."""
    data = copy.deepcopy(SEED_DATA)
    for _ in range(draw(st.integers(1, 4))):
        target = _at(data, draw(st.sampled_from(_containers(data))))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            continue
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(["delete", "replace", "rename", "duplicate"]))
        if action == "delete":
            del target[key]
        elif action == "replace":
            target[key] = draw(WEIRD_VALUES)
        elif action == "rename" and isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=8))] = target.pop(key)
        elif isinstance(target, list):
            target.append(copy.deepcopy(target[key]))
    return data


def _check(tmp: Path, text: str) -> None:
    path = tmp / "flows.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    # --compat lets the later stages see what would otherwise stop at the schema (unknown keys,
    # negative intervals...), so both modes are exercised on every input.
    for compat in (False, True):
        result = pipeline.check([str(path)], compat=compat)
        for diagnostic in result.diagnostics:  # rendering must not fail either
            render(diagnostic, result.sources)
            assert diagnostic.span.file == str(path)
            assert diagnostic.span.line >= 1
            assert diagnostic.span.col >= 1


def test_the_seed_is_valid(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(SEED_TEXT)
    result = pipeline.check([str(tmp_path / "flows.yaml")])
    assert [d for d in result.diagnostics] == []


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=mutated())
def test_mutated_configurations_give_diagnostics_not_crashes(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    _check(tmp_path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, len(SEED_TEXT)),
    length=st.integers(0, 40),
    junk=st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`,? \n\t\\ab1")), max_size=20),
)
def test_mangled_yaml_text_gives_diagnostics_not_crashes(
    tmp_path: Path, cut: int, length: int, junk: str
) -> None:
    _check(tmp_path, SEED_TEXT[:cut] + junk + SEED_TEXT[cut + length :])


@settings(max_examples=300, deadline=None)
@given(data=mutated())
def test_the_fast_schema_verdict_never_hides_an_error(data: dict[str, Any]) -> None:
    # schema.validate trusts jsonschema-rs's "valid" and asks jsonschema only to explain
    # errors; so whenever jsonschema-rs says valid, jsonschema must agree.
    doc, _ = load_text(SourceFile("f.yaml", yaml.safe_dump(data, allow_unicode=True)))
    if doc is not None and schema._fast_valid(doc.data):
        assert list(schema._validator().iter_errors(doc.data)) == []
