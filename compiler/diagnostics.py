"""Diagnostics: values every stage returns, their stable codes, and how they are rendered."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from selinonc.compiler.source import SourceFile, Span


class Severity(str, Enum):
    """How serious a finding is: errors fail the command, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


# Every code the compiler can emit, with a one-line summary. Codes are stable: they are never
# renumbered or reused, because users silence and search for them. Each has a golden case in
# tests/cases/<code>-*/.
CODES: Mapping[str, str] = {
    # SC1xx: inputs, YAML and schema
    "SC101": "a file is not valid YAML",
    "SC102": "a mapping has the same key twice",
    "SC103": "a mapping key is not a string",
    "SC104": "a file cannot be read as UTF-8 text",
    "SC105": "a file is empty or its top level is not a mapping",
    "SC106": "a file is too large or too deeply nested to be a flow configuration",
    "SC107": "a YAML feature that flow configurations do not use (tags, non-scalar merges)",
    "SC110": "an unknown key",
    "SC111": "a value has the wrong type",
    "SC112": "a required key is missing",
    "SC113": "a value is not one of the allowed values or has the wrong form",
    "SC114": "a list or mapping that must not be empty is empty",
    "SC120": "no nodes file (with `tasks` and `flows`) among the inputs",
    "SC121": "more than one nodes file among the inputs",
    "SC122": "a file is neither a nodes file nor a flow file",
    # SC2xx: names
    "SC201": "a task or flow name is defined twice",
    "SC202": "a flow is defined twice in flow-definitions",
    "SC203": "a flow definition names a flow not listed in `flows`",
    "SC204": "a listed flow has no definition",
    "SC205": "a reference to an unknown task or flow",
    "SC206": "a task uses an unknown storage",
    "SC207": "a storage name is defined twice",
    "SC208": "a storage is named like a task or flow",
    "SC209": "a name would collide in the generated code",
    "SC210": "a propagate_* option names something that is not a flow",
    "SC211": "a name is not a valid Python identifier or module path",
    # SC3xx: edges and graph
    "SC301": "a flow has no starting edge",
    "SC302": "a node appears twice in one edge's `from`",
    "SC303": "a task is used as an edge source or failure node but nothing in the flow starts it",
    "SC304": "a cycle of edges without any condition runs forever",
    "SC305": "a sub-flow starts itself without a condition on the way",
    "SC306": "a node can never start: only a loop that nothing leads into starts it",
    "SC307": "an edge or fallback can never fire: it waits in a deadlock",
    "SC308": "a sub-flow is used as an edge source or failure node but nothing in the flow "
    "starts it",
    # SC4xx: conditions
    "SC401": "an unknown predicate",
    "SC402": "a predicate's `node` is not a source of its edge",
    "SC403": "a result predicate with no node to read",
    "SC404": "a result predicate reads a sub-flow or a task without storage",
    "SC405": "a result predicate reads a task whose storage is read-only",
    "SC406": "predicate arguments do not match the predicate's parameters",
    "SC407": "a failure condition reads a task result",
    "SC408": "a custom predicates or sampling strategies module cannot be imported",
    "SC409": "a built-in predicate's field name (`key`) is neither a string nor a list",
    # SC5xx: tasks and storages
    "SC501": "`storage_task_name` without a `storage`",
    "SC502": "a storage is used by no task",
    "SC503": "tasks sharing a class disagree on `output_schema` or `max_retry`",
    "SC504": "a task is used in no flow",
    "SC505": "`retry_countdown` is set but `max_retry` is 0",
    "SC506": "an `output_schema` file does not exist or is not a valid JSON Schema",
    "SC507": "a task's module cannot be imported where selinonc runs",
    "SC508": "a task's module or class does not exist in a package or module that imports",
    "SC509": "a task's class is not a task class the runtime can run",
    "SC510": "a `selinon.*` module or class that selinonc has no equivalent of",
    "SC511": "a configuration key of a Selinon storage that selinonc's equivalent cannot honour",
    "SC512": "Selinon's Redis or PostgreSQL storage, which `--compat` builds as selinonc's",
    "SC513": "an `output_schema` path leads out of the nodes file's folder (absolute, `..`, "
    "a symbolic link)",
    "SC520": "a storage selinonc ships gets a key its class does not take, or null for a value",
    # SC6xx: flow options
    "SC601": "`node_args_from_first` needs exactly one starting edge with one task",
    "SC602": "a nowait node is used as a source or waits for a failure",
    "SC603": "a nowait node is never started in the flow",
    "SC604": "an eager-failure node is not in the flow, is nowait or has a fallback",
    "SC605": "a propagate_* option names a flow that is not a source or destination as needed",
    "SC606": "a node is in both the plain and the compound propagate_* option",
    "SC607": "a propagate_*failures option names a node without a fallback",
    "SC608": "propagated results cannot reach a sub-flow because `propagate_parent` is off",
    "SC609": "`foreach.propagate_result` needs flow destinations without `propagate_node_args`",
    "SC610": "a `selective` edge needs exactly one destination, and it must be a flow",
    "SC611": "`sampling.args` do not match the strategy's parameters",
    "SC612": "an unknown sampling strategy",
    "SC613": "a failure lists a node twice or a node falls back to itself",
    "SC614": "`propagate_failure: true` together with `fallback: true`",
    "SC615": "`eager_failures: true` with `failures`: no fallback can ever run",
    "SC616": "`node_args_from_first` is not a boolean",
    "SC617": "a negative retry count, countdown or throttling interval",
    "SC618": "`sampling.args` has arguments the strategy does not take",
    "SC619": "`propagate_node_args` names a flow that is not a destination",
    "SC620": "a `selective` edge names unknown tasks, or `run_subsequent` names a non-flow",
    "SC621": "a `{placeholder}` in a queue, `migration_dir` or Sentry DSN is not a plain `{NAME}`",
    "SC622": "`allow` in the global section names a code that is unknown or not a warning",
    # SC7xx: code generation
    "SC701": "a value that generated code embeds has no literal form (a date, binary data)",
}


# Findings that Selinon 1.4.0 accepts: `--compat` reports them as warnings (decisions.md, 2).
COMPAT_WARNINGS: frozenset[str] = frozenset(
    {
        "SC102",
        "SC103",
        "SC110",  # unknown, duplicate and non-string keys
        "SC207",
        "SC208",
        "SC209",  # duplicate storages, storage/node clash, generated names
        "SC304",
        "SC305",
        "SC306",
        "SC307",
        "SC308",  # graph analysis
        "SC506",
        "SC512",  # Selinon's Redis and PostgreSQL storages, translated
        "SC520",  # Selinon passes any configuration on, and fails when the storage connects
        "SC616",
        "SC617",
        "SC618",
        "SC619",
        "SC620",  # added option checks
    }
)


# Findings that are warnings whatever the mode: the codes `--allow` and `global.allow` may
# silence, with those of COMPAT_WARNINGS under --compat (a test keeps it in step with the checks).
WARNING_CODES: frozenset[str] = frozenset(
    {"SC408", "SC409", "SC502", "SC503", "SC504", "SC505", "SC507", "SC608"}
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: what is wrong, where, and how to fix it."""

    code: str
    severity: Severity
    span: Span
    message: str
    hint: str | None = None

    @classmethod
    def error(cls, code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
        """Build an error diagnostic."""
        return cls(code, Severity.ERROR, span, message, hint)

    @classmethod
    def warning(cls, code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
        """Build a warning diagnostic."""
        return cls(code, Severity.WARNING, span, message, hint)

    def as_warning(self) -> Diagnostic:
        """The same finding, downgraded to a warning (what `--compat` does to added checks)."""
        return replace(self, severity=Severity.WARNING)

    def as_error(self, hint: str | None = None) -> Diagnostic:
        """The same finding as an error (what `build` does to findings it cannot build past)."""
        return replace(self, severity=Severity.ERROR, hint=hint or self.hint)

    def sort_key(self) -> tuple[str, int, int, str, str, str, str]:
        """A total order: file, line, column, code, message, severity, hint."""
        d = self
        return (d.span.file, d.span.line, d.span.col, d.code, d.message, d.severity, d.hint or "")

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict, the form of `--format json`."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.col,
            "message": self.message,
            "hint": self.hint,
        }


# How alike a word and a choice must be (difflib's ratio) for a "did you mean" hint.
CLOSE_CUTOFF = 0.6
# A Speller suggests a choice for this many different words at most, and nothing for the words
# after them. Finding one suggestion looks at every choice of about the word's length, so one
# for each of N unknown names among N tasks is N * N work: 4,000 misspelt task names took 9
# minutes to check before the cap, 2 to 10 s with it (the checks of names keep a Speller each,
# so each gives at most this many hints). A real configuration never comes near, and past a few
# hundred unknown names nobody reads the hints anyway.
MAX_SUGGESTED_WORDS = 200


def _ratio(matches: int, length: int) -> float:
    """difflib's ratio formula, for the same float as its own bounds."""
    return 2.0 * matches / length if length else 1.0


class Speller:
    """Suggests the closest of a fixed list of choices for many words.

    It names the choice `difflib.get_close_matches(word, sorted(set(choices)), n=1,
    cutoff=CLOSE_CUTOFF)` names, the highest ratio (the greater choice on a tie), with less
    work per choice. The choices are indexed once, when the first word is looked up: bucketed
    by length, so that a length too far from the word's to reach the cutoff is skipped
    (difflib's real_quick_ratio), and by character, so that one pass over the word's
    characters gives the upper bound difflib's quick_ratio would give for every choice (the
    characters both have, counted as multisets). The exact ratio is then computed only for the
    choices whose bound can still beat the best so far. Answers are memoised per word; see
    MAX_SUGGESTED_WORDS for the `limit`.
    """

    __slots__ = ("_by_length", "_choices", "_left", "_memo", "_sorted", "_with_char")

    def __init__(self, choices: Iterable[str], limit: int | None = MAX_SUGGESTED_WORDS) -> None:
        self._choices: Iterable[str] | None = choices
        self._sorted: list[str] = []
        self._by_length: dict[int, list[int]] = {}  # length -> indexes into _sorted
        self._with_char: dict[str, list[tuple[int, int]]] = {}  # char -> (index, count)
        self._memo: dict[str, str | None] = {}
        self._left = limit

    def closest(self, word: str) -> str | None:
        """The choice closest to a misspelt word, or None when nothing is close (or the limit
        of words is spent)."""
        if word in self._memo:
            return self._memo[word]
        if self._left is not None:
            if self._left <= 0:
                return None
            self._left -= 1
        match = self._memo[word] = self._search(word)
        return match

    def did_you_mean(self, word: str) -> str | None:
        """A hint naming the closest choice to a misspelt word, or None."""
        match = self.closest(word)
        return f"did you mean {match!r}?" if match is not None else None

    def _index(self, choices: Iterable[str]) -> None:
        self._sorted = sorted(set(choices))
        for i, choice in enumerate(self._sorted):
            self._by_length.setdefault(len(choice), []).append(i)
            for char, count in Counter(choice).items():
                self._with_char.setdefault(char, []).append((i, count))

    def _search(self, word: str) -> str | None:
        if self._choices is not None:
            self._index(self._choices)
            self._choices = None
        shared = [0] * len(self._sorted)  # characters in common with the word, by choice
        for char, count in Counter(word).items():
            for i, n in self._with_char.get(char, ()):
                shared[i] += n if n < count else count
        size = len(word)
        bounded: list[tuple[float, int]] = []
        for length, group in self._by_length.items():
            if _ratio(min(length, size), length + size) < CLOSE_CUTOFF:  # real_quick_ratio
                continue
            for i in group:
                bound = _ratio(shared[i], length + size)  # quick_ratio
                if bound >= CLOSE_CUTOFF:
                    bounded.append((bound, i))
        if not bounded:
            return None
        # difflib's roles, as in get_close_matches: `b` (seq2) is the word, `a` each choice.
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)
        best: tuple[float, str] | None = None
        # Best bound first; the ratio of the first choice already rules out every choice
        # whose bound is below it, since a ratio never exceeds its bound.
        first = max(bounded)
        matcher.set_seq1(self._sorted[first[1]])
        floor = matcher.ratio()
        candidates = sorted(
            ((bound, self._sorted[i]) for bound, i in bounded if bound >= floor), reverse=True
        )
        for bound, choice in candidates:
            if best is not None and (bound, choice) < best:
                break  # no choice left can score above the best
            matcher.set_seq1(choice)
            score = matcher.ratio()
            if score >= CLOSE_CUTOFF and (best is None or (score, choice) > best):
                best = (score, choice)
        return best[1] if best is not None else None


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt word, or None when nothing is close.

    For many words and one list of choices, use a Speller: it sorts the choices once.
    """
    return Speller(choices, limit=None).closest(word)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest choice to a misspelt word, or None when nothing is close."""
    return Speller(choices, limit=None).did_you_mean(word)


def settle(found: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each finding once, in the total order of `Diagnostic.sort_key`."""
    return sorted(dict.fromkeys(found), key=Diagnostic.sort_key)


def join_or(words: Iterable[str]) -> str:
    """`a`, `a or b`, `a, b or c` (empty for no words)."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error."""
    return any(d.severity is Severity.ERROR for d in diagnostics)


# A source line is shown whole up to this many characters, a longer one (flow-style YAML written
# on one line) as a window around the caret: a diagnostic prints a bounded excerpt, not a copy of
# the whole file each.
MAX_SHOWN_LINE = 200


def excerpt(line: str, col: int) -> tuple[str, int]:
    """The source line as a diagnostic shows it, and the caret's 0-based offset in it.

    Tabs show as one space each, so that the caret stays under the column.
    """
    at = max(col - 1, 0)
    if len(line) <= MAX_SHOWN_LINE:
        return line.expandtabs(1).rstrip(), at
    start = max(0, min(at - MAX_SHOWN_LINE // 2, len(line) - MAX_SHOWN_LINE))
    end = start + MAX_SHOWN_LINE
    before = "..." if start else ""
    after = "..." if end < len(line) else ""
    return before + line[start:end].expandtabs(1).rstrip() + after, at - start + len(before)


def render(diagnostic: Diagnostic, sources: Mapping[str, SourceFile]) -> str:
    """Render one diagnostic like a compiler: location, message, source line, caret, hint."""
    d = diagnostic
    out = [f"{d.span}: {d.severity.value}[{d.code}]: {d.message}"]
    source = sources.get(d.span.file)
    line = source.line(d.span.line) if source is not None else None
    if line is not None:
        text, at = excerpt(line, d.span.col)
        out.append(f"    {text}")
        out.append("    " + " " * at + "^")
    if d.hint:
        out.append(f"hint: {d.hint}")
    return "\n".join(out)


def summary(diagnostics: Sequence[Diagnostic], files: int, allowed: int = 0) -> str:
    """The closing line: counts of errors and warnings over the checked files, and of the
    warnings `--allow` or `global.allow` silenced."""
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    checked = f"checked {files} file{'s' if files != 1 else ''}"
    silenced = f"; {allowed} warning{'s' if allowed != 1 else ''} allowed" if allowed else ""
    if not diagnostics:
        return f"{checked}: no problems found{silenced}"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"{checked}: " + ", ".join(parts) + silenced


def render_json(diagnostics: Sequence[Diagnostic], files: int, allowed: int = 0) -> str:
    """All diagnostics as one JSON document (for editors and CI annotations)."""
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    doc = {
        "diagnostics": [d.to_json() for d in diagnostics],
        "summary": {
            "files": files,
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "allowed": allowed,  # warnings silenced by --allow or `global.allow`, not listed
        },
    }
    return json.dumps(doc, indent=2, sort_keys=False)
