"""Load YAML files into plain data with a position for every key and value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from selinonc.compiler.diagnostics import Diagnostic, settle
from selinonc.compiler.source import SourceFile, Span

JsonPath = tuple[str | int, ...]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000

_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """libyaml's parser when PyYAML has it (10x faster than pure Python on 10,000 tasks).

    The parser asks Python for the tag of every node, matching the scalar against the implicit
    resolvers' regular expressions; configurations repeat their values a lot, so the answers
    are memoised (safe: the safe resolvers depend only on the node kind, value and implicitness).
    """

    _tags: ClassVar[dict[tuple[Any, ...], str]] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._tags) < 100_000:
                self._tags[key] = tag
        return tag


_LOADER: type[yaml.SafeLoader] = _Loader
_new_tuple = tuple.__new__
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
# The tags of YAML's safe schema, as Selinon's safe loader accepts them (`!!binary` gives bytes;
# `!!set`, `!!omap` and `!!pairs` collections are read as plain mappings and lists).
_CORE_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in (
        "str",
        "int",
        "float",
        "bool",
        "null",
        "map",
        "seq",
        "merge",
        "timestamp",
        "binary",
        "set",
        "omap",
        "pairs",
    )
)


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    """One loaded file: its data, and the spans of every value and key by JSON path."""

    source: SourceFile
    data: Any
    # YAML marks (0-based line and column) by JSON path; made into Spans only when asked for,
    # which keeps loading 10,000 tasks fast.
    marks: Mapping[JsonPath, Mark]
    key_marks: Mapping[JsonPath, Mark]

    def _span(self, mark: Mark) -> Span:
        # tuple.__new__ skips the named tuple's Python-level __new__ (0.1 s on 10,000 tasks).
        return _new_tuple(Span, (self.source.path, mark.line + 1, mark.column + 1))

    def span(self, path: JsonPath) -> Span:
        """The span of the value at `path`, or of its nearest enclosing value that has one."""
        mark = self.marks.get(path)
        if mark is not None:
            return self._span(mark)
        for end in range(len(path) - 1, -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return self._span(mark)
        return Span(self.source.path, 1, 1)

    def key_span(self, path: JsonPath) -> Span:
        """The span of the key that holds the value at `path` (its value's span if none)."""
        mark = self.key_marks.get(path)
        return self._span(mark) if mark is not None else self.span(path)


class _TooBig(Exception):
    """Raised inside the walk when a limit is exceeded; turned into SC106."""

    def __init__(self, span: Span, message: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message


@dataclass(slots=True)
class _Walker:
    """Turns composed YAML nodes into plain data, recording spans and finding key problems."""

    path: str
    constructor: yaml.SafeLoader
    marks: dict[JsonPath, Mark] = field(default_factory=dict)
    key_marks: dict[JsonPath, Mark] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    visited: int = 0

    def span(self, node: Node) -> Span:
        mark = node.start_mark
        return Span(self.path, mark.line + 1, mark.column + 1)

    def walk(self, node: Node, at: JsonPath, depth: int, record: bool = True) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _TooBig(self.span(node), f"more than {MAX_NODES:,} YAML values (alias bomb?)")
        if depth > MAX_DEPTH:
            raise _TooBig(self.span(node), f"nested deeper than {MAX_DEPTH} levels")
        if record:
            self.marks[at] = node.start_mark
        if isinstance(node, MappingNode):
            return self.mapping(node, at, depth, record)
        if isinstance(node, SequenceNode):
            return [
                self.walk(item, (*at, i), depth + 1, record) for i, item in enumerate(node.value)
            ]
        if node.tag == _STR_TAG:
            return node.value
        return self.scalar(node)

    def scalar(self, node: Node) -> Any:
        if node.tag not in _CORE_TAGS:
            self.diagnostics.append(
                Diagnostic.error(
                    "SC107",
                    self.span(node),
                    f"the YAML tag {node.tag!r} is not supported in flow configurations",
                    hint="remove the tag; write the value as plain YAML",
                )
            )
            return None
        try:
            return self.constructor.yaml_constructors[node.tag](self.constructor, node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.diagnostics.append(
                Diagnostic.error(
                    "SC101",
                    self.span(node),
                    f"invalid YAML value {node.value!r}: {exc}",
                    hint="quote the value to make it a string",
                )
            )
            return None

    def mapping(self, node: MappingNode, at: JsonPath, depth: int, record: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for index, (key_node, value_node) in enumerate(node.value):
            if type(key_node) is ScalarNode and key_node.tag == _STR_TAG:
                key = key_node.value  # the common key, inlined
            elif key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            else:
                key = self.key(key_node)
                if key is None:
                    continue
            if key in out:  # merges are applied after the loop: `out` holds explicit keys only
                first = _previous_key(node, index, key)
                self.diagnostics.append(
                    Diagnostic.error(
                        "SC102",
                        self.span(key_node),
                        f"duplicate key {key!r} (first defined at line {first.line + 1})",
                        hint="remove one of the two; YAML would silently keep only the last",
                    )
                )
                del out[key]  # like YAML loaders (and under --compat), the last one wins
            path = (*at, key)
            if record:
                self.key_marks[path] = key_node.start_mark
            if value_node.tag == _STR_TAG and type(value_node) is ScalarNode:
                # The common leaf, inlined: a third of all values in a large configuration.
                self.visited += 1
                if record:
                    self.marks[path] = value_node.start_mark
                out[key] = value_node.value
            else:
                out[key] = self.walk(value_node, path, depth + 1, record)
        for merged in self.merged(merges, at, depth, record):
            for key, value in merged.items():
                out.setdefault(key, value)
        return out

    def merged(
        self, merges: list[Node], at: JsonPath, depth: int, record: bool
    ) -> list[dict[str, Any]]:
        """The mappings named by `<<` keys, earlier ones first (they take precedence)."""
        sources: list[Node] = []
        for value in merges:
            items = value.value if isinstance(value, SequenceNode) else [value]
            sources.extend(items)
        result = []
        for src in sources:
            if not isinstance(src, MappingNode):
                self.diagnostics.append(
                    Diagnostic.error(
                        "SC107",
                        self.span(src),
                        "a `<<` merge key must name a mapping or a list of mappings",
                        hint="merge an anchored mapping, e.g. `<<: *defaults`",
                    )
                )
                continue
            # Merged values keep the spans of their anchor, unless the key is written here.
            data = self.mapping(src, at, depth + 1, record=False)
            for key in data:
                if record and (*at, key) not in self.marks:
                    self._record_merged(src, at, key)
            result.append(data)
        return result

    def _record_merged(self, src: MappingNode, at: JsonPath, key: str) -> None:
        for key_node, value_node in src.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                path = (*at, key)
                self.key_marks[path] = key_node.start_mark
                self._record_tree(value_node, path, 0)
                return

    def _record_tree(self, node: Node, at: JsonPath, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        self.marks.setdefault(at, node.start_mark)
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                    self.key_marks.setdefault((*at, key_node.value), key_node.start_mark)
                    self._record_tree(value_node, (*at, key_node.value), depth + 1)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self._record_tree(item, (*at, i), depth + 1)

    def key(self, node: Node) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
            return str(node.value)
        shown = node.value if isinstance(node, ScalarNode) else "a " + _kind(node)
        self.diagnostics.append(
            Diagnostic.error(
                "SC103",
                self.span(node),
                f"mapping key {shown!r} is not a string (YAML reads it as {_kind(node)})",
                hint=f'quote the key: "{shown}"' if isinstance(node, ScalarNode) else None,
            )
        )
        return None


def _previous_key(node: MappingNode, index: int, key: str) -> Mark:
    """Where the same key was written before position `index` of a mapping (for SC102)."""
    for key_node, _ in reversed(node.value[:index]):
        if isinstance(key_node, ScalarNode) and key_node.tag == _STR_TAG and key_node.value == key:
            return key_node.start_mark
    return node.start_mark


def _kind(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return str(node.tag).rsplit(":", 1)[-1]
    return "mapping" if isinstance(node, MappingNode) else "sequence"


def decode(path: str, raw: bytes) -> tuple[SourceFile, list[Diagnostic]]:
    """Decode a file's bytes as UTF-8 text, reporting size and encoding problems."""
    if len(raw) > MAX_FILE_BYTES:
        return SourceFile(path, ""), [
            Diagnostic.error(
                "SC106",
                Span(path, 1, 1),
                f"file is {len(raw):,} bytes, over the {MAX_FILE_BYTES:,} byte limit",
                hint="split the configuration into several flow files",
            )
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return SourceFile(path, ""), [
            Diagnostic.error(
                "SC104",
                Span(path, line, col),
                f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                hint="save the file as UTF-8; is this really a YAML file?",
            )
        ]
    return SourceFile(path, text), []


def _compose(text: str) -> Node | None:
    """Compose with libyaml; on an error, again in pure Python for the same message everywhere."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        if _BASE_LOADER is yaml.SafeLoader:
            raise
    return yaml.compose(text, Loader=yaml.SafeLoader)


# PyYAML's explanations (context or problem) -> what usually causes them. `{at}` is where the
# construct the parser was reading began ("line 4, column 8").
_YAML_HINTS: tuple[tuple[str, str], ...] = (
    ("while parsing a flow sequence", "is the `]` of the list opened at {at} missing?"),
    ("while parsing a flow mapping", "is the `}}` of the mapping opened at {at} missing?"),
    (
        "unknown escape character",
        "in double quotes a backslash starts an escape; write `\\\\` "
        "for a backslash, or use single quotes",
    ),
    (
        "could not find expected ':'",
        "the text at {at} is neither `key: value` nor a list item `- ...`; is a `:` missing?",
    ),
    ("quoted scalar", "is the closing quote of the string that starts at {at} missing?"),
    (
        "mapping values are not allowed here",
        "a plain value cannot hold `: `; quote the value, "
        "or put a nested mapping on lines of its own",
    ),
    ("found character '\\t'", "YAML indents with spaces only; replace the tab"),
    ("that cannot start any token", "quote the value: it starts with a character YAML reserves"),
    (
        "expected <block end>",
        "check the indentation: the keys of one mapping, and the items of "
        "one list, start in the same column",
    ),
    ("found undefined alias", "define the anchor (`&name`) before the alias (`*name`) uses it"),
)
_YAML_FALLBACK_HINT = "check the indentation (spaces only) and that every quote and bracket closes"


def _yaml_hint(exc: yaml.MarkedYAMLError) -> str:
    """What probably went wrong, in YAML terms, for a syntax error PyYAML reports."""
    mark = exc.context_mark or exc.problem_mark
    at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the start"
    text = f"{exc.context or ''} {exc.problem or ''}"
    for needle, hint in _YAML_HINTS:
        if needle in text:
            return hint.format(at=at)
    return _YAML_FALLBACK_HINT


def _code_point(exc: yaml.reader.ReaderError, text: str) -> int:
    """The code point PyYAML rejected.

    PyYAML (6.0, pure Python and libyaml alike) passes `ord(character)`, an int, for a character
    of a text; a one-character str or bytes is accepted too, and failing all, the text at the
    error's position.
    """
    char = exc.character
    if isinstance(char, int):
        return char
    if isinstance(char, (str, bytes)) and len(char) == 1:
        return ord(char)
    if 0 <= exc.position < len(text):
        return ord(text[exc.position])
    return 0


def load_text(source: SourceFile) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one source file into a Document, or return the diagnostics that prevent it."""
    path = source.path
    try:
        node = _compose(source.text)
    except yaml.reader.ReaderError as exc:
        before = source.text[: exc.position]
        span = Span(path, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        return None, [
            Diagnostic.error(
                "SC104",
                span,
                f"the character U+{_code_point(exc, source.text):04X} is not allowed in YAML",
                hint="remove it; is this really a YAML text file?",
            )
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [Diagnostic.error("SC101", span, f"invalid YAML: {problem}", _yaml_hint(exc))]
    except yaml.YAMLError as exc:
        return None, [
            Diagnostic.error(
                "SC101", Span(path, 1, 1), f"invalid YAML: {exc}", hint=_YAML_FALLBACK_HINT
            )
        ]
    except RecursionError:
        return None, [
            Diagnostic.error("SC106", Span(path, 1, 1), "YAML is nested too deeply to read")
        ]
    if node is None:
        return None, [
            Diagnostic.error(
                "SC105",
                Span(path, 1, 1),
                "file is empty",
                hint="a nodes file needs `tasks` and `flows`; a flow file `flow-definitions`",
            )
        ]
    walker = _Walker(path, yaml.SafeLoader(""))
    try:
        data = walker.walk(node, (), 0)
    except _TooBig as exc:
        return None, [Diagnostic.error("SC106", exc.span, f"file is too large: {exc.message}")]
    if not isinstance(data, dict):
        walker.diagnostics.append(
            Diagnostic.error(
                "SC105",
                walker.span(node),
                f"the top level of the file is a {_kind(node)}, not a mapping",
                hint="a nodes file starts with `tasks:`; a flow file with `flow-definitions:`",
            )
        )
        return None, walker.diagnostics
    doc = Document(source, data, walker.marks, walker.key_marks)
    # Anchored mappings are walked once per alias; report each problem once.
    return doc, settle(walker.diagnostics)


def load_file(path: str) -> tuple[SourceFile, Document | None, list[Diagnostic]]:
    """Read and parse one file; never raises for bad content."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return (
            SourceFile(path, ""),
            None,
            [Diagnostic.error("SC104", Span(path, 1, 1), f"cannot read file: {exc.strerror}")],
        )
    source, problems = decode(path, raw)
    if problems:
        return source, None, problems
    doc, diagnostics = load_text(source)
    return source, doc, diagnostics
