"""The loader: positions for keys and values, duplicate and non-string keys, merges, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from selinonc.compiler.load import MAX_DEPTH, load_file, load_text
from selinonc.compiler.source import SourceFile, Span


def load(text: str) -> tuple[object, list[tuple[str, int, int, str]]]:
    doc, diagnostics = load_text(SourceFile("f.yaml", text))
    found = [(d.code, d.span.line, d.span.col, d.message) for d in diagnostics]
    return (doc.data if doc else None), found


def test_every_key_and_value_has_its_position() -> None:
    doc, diagnostics = load_text(
        SourceFile("f.yaml", "tasks:\n  - name: A\n    import: m\nflows: [f1, f2]\n")
    )
    assert diagnostics == []
    assert doc is not None
    assert doc.span(("tasks", 0, "name")) == Span("f.yaml", 2, 11)
    assert doc.key_span(("tasks", 0, "import")) == Span("f.yaml", 3, 5)
    assert doc.span(("flows", 1)) == Span("f.yaml", 4, 13)
    # A path below a scalar falls back to the nearest enclosing value.
    assert doc.span(("tasks", 0, "name", "x")) == Span("f.yaml", 2, 11)


def test_duplicate_key_is_reported_at_the_second_key_and_last_value_kept() -> None:
    data, found = load("a: 1\nb: 2\na: 3\n")
    assert found == [("SC102", 3, 1, "duplicate key 'a' (first defined at line 1)")]
    assert data == {"a": 3, "b": 2}


@pytest.mark.parametrize(
    ("text", "shown", "kind"),
    [
        ("on: 1\n", "on", "bool"),
        ("3: x\n", "3", "int"),
        ("null: x\n", "null", "null"),
        ("? [a]\n: x\n", "a sequence", "sequence"),
    ],
)
def test_non_string_keys_are_reported(text: str, shown: str, kind: str) -> None:
    _, found = load(text)
    assert found == [
        (
            "SC103",
            1,
            1 if kind != "sequence" else 3,
            f"mapping key {shown!r} is not a string (YAML reads it as {kind})",
        )
    ]


def test_merge_keys_and_anchors_work_and_explicit_keys_win() -> None:
    text = (
        "base: &base\n  queue: q1\n  max_retry: 2\n"
        "tasks:\n  - <<: *base\n    name: A\n    max_retry: 5\n"
    )
    doc, diagnostics = load_text(SourceFile("f.yaml", text))
    assert diagnostics == []
    assert doc is not None
    assert doc.data["tasks"][0] == {"name": "A", "max_retry": 5, "queue": "q1"}
    # A merged value points at where it is written: the anchored mapping.
    assert doc.span(("tasks", 0, "queue")) == Span("f.yaml", 2, 10)
    assert doc.span(("tasks", 0, "max_retry")) == Span("f.yaml", 7, 16)


def test_merge_of_a_list_of_mappings_prefers_the_first() -> None:
    data, found = load("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert found == []
    assert isinstance(data, dict)
    assert data["c"] == {"x": 1, "y": 2}


def test_merge_of_a_scalar_is_a_diagnostic() -> None:
    _, found = load("a: &a 3\nc:\n  <<: *a\n")
    assert [f[0] for f in found] == ["SC107"]


@pytest.mark.parametrize(
    ("text", "code", "line", "col"),
    [
        ("a: [1, 2\n", "SC101", 2, 1),
        ("a: b: c\n", "SC101", 1, 5),
        ("", "SC105", 1, 1),
        ("# only a comment\n", "SC105", 1, 1),
        ("- a\n- b\n", "SC105", 1, 1),
        ("just a string\n", "SC105", 1, 1),
        ("a: !!python/object:os.system x\n", "SC107", 1, 4),
        ("a: !custom 3\n", "SC107", 1, 4),
        ("a: 1\n---\nb: 2\n", "SC101", 2, 1),
        ("a: 2020-13-45\n", "SC101", 1, 4),
        ("a: \x00\n", "SC104", 1, 4),
    ],
)
def test_broken_yaml_gives_one_positioned_diagnostic(
    text: str, code: str, line: int, col: int
) -> None:
    _, found = load(text)
    assert [(f[0], f[1], f[2]) for f in found] == [(code, line, col)]


@pytest.mark.parametrize(
    ("text", "line", "col", "shown"),
    [
        ("a: b\x0cc\n", 1, 5, "U+000C"),  # a form feed
        ("a: \x00\n", 1, 4, "U+0000"),
        ("é: 1\nb: ü\x80\n", 2, 5, "U+0080"),  # a C1 control (U+0085, NEL, is a line break)
        ("a: \x9f\n", 1, 4, "U+009F"),
        ("a: \ufffe\n", 1, 4, "U+FFFE"),
    ],
)
def test_a_character_yaml_rejects_is_named_by_its_code_point(
    text: str, line: int, col: int, shown: str
) -> None:
    # PyYAML's ReaderError carries the character as ord(character), an int, not a str.
    _, found = load(text)
    assert found == [("SC104", line, col, f"the character {shown} is not allowed in YAML")]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("flows: [main\nx: 1\n", "is the `]` of the list opened at line 1, column 8 missing?"),
        ("a: {b: 1\nc: 2\n", "is the `}` of the mapping opened at line 1, column 4 missing?"),
        ("a: 'abc\nb: 2\n", "is the closing quote of the string that starts at line 1, column 4"),
        ("a: b: c\n", "a plain value cannot hold `: `; quote the value"),
        ("a:\n\tb: 1\n", "YAML indents with spaces only; replace the tab"),
        ("a:\n  b: 1\n c: 2\n", "check the indentation: the keys of one mapping"),
        ("a: 1\nb\nc: 2\n", "the text at line 2, column 1 is neither `key: value`"),
        ("a: *nope\n", "define the anchor (`&name`) before the alias"),
        ('a: "\\q"\n', "in double quotes a backslash starts an escape; write `\\\\`"),
        ("a: @x\n", "quote the value: it starts with a character YAML reserves"),
        ("a: ]\n", "check the indentation (spaces only) and that every quote and bracket closes"),
    ],
)
def test_invalid_yaml_has_a_hint_naming_the_likely_cause(text: str, hint: str) -> None:
    _, found = load_text(SourceFile("f.yaml", text))
    assert [d.code for d in found] == ["SC101"]
    assert (found[0].hint or "").startswith(hint)


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    deep = "a: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n"
    _, found = load(deep)
    assert [f[0] for f in found] == ["SC106"]
    very_deep = "[" * 100_000 + "]" * 100_000
    _, found = load(very_deep)
    assert [f[0] for f in found] == ["SC106"]


def test_alias_bomb_is_a_diagnostic() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    _, found = load("\n".join(lines) + "\n")
    assert [f[0] for f in found] == ["SC106"]


def test_binary_and_unreadable_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"tasks:\n  - \xff\xfe\x00\x01")
    _, doc, found = load_file(str(junk))
    assert doc is None
    assert [(d.code, d.span.line, d.span.col) for d in found] == [("SC104", 2, 5)]
    _, doc, found = load_file(str(tmp_path))  # a directory cannot be read as a file
    assert doc is None
    assert [d.code for d in found] == ["SC104"]


def test_utf8_bom_and_non_ascii_are_fine() -> None:
    data, found = load("\ufeffname: ünïcødé ✓\n")
    assert found == []
    assert data == {"name": "ünïcødé ✓"}
