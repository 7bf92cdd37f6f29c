"""The compiler's stages, in order; a run stops after the first stage that reports errors.

    load → schema → classify → build → checks            (`selinonc check`)
    load → schema → classify → build → checks → lower → emit   (`selinonc build`)

Each stage is a function over one `Work` value: it reads what earlier stages left there, stores
its own product, and returns its findings. `_run` sets each finding's severity and leaves out
the warnings the project allows (`--allow`, `global.allow`), the same for every command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from selinonc.compiler import schema
from selinonc.compiler.build import build
from selinonc.compiler.checks import run_checks
from selinonc.compiler.classify import Inputs, classify
from selinonc.compiler.diagnostics import (
    CODES,
    COMPAT_WARNINGS,
    WARNING_CODES,
    Diagnostic,
    Severity,
    did_you_mean,
    has_errors,
    settle,
)
from selinonc.compiler.load import Document, load_file
from selinonc.compiler.model import Project
from selinonc.compiler.source import SourceFile

if TYPE_CHECKING:  # lowering and emitting are imported only when building
    from selinonc.compiler.lower import PlannedFile


@dataclass(slots=True)
class Work:
    """What the stages of one run read and produce, in the order they produce it."""

    files: Sequence[str]
    compat: bool = False
    allow: frozenset[str] = frozenset()  # warning codes given with --allow (already valid)
    out_dir: str | None = None  # where `build` will write: decides which imports are first party
    sources: dict[str, SourceFile] = field(default_factory=dict)  # load
    docs: list[Document] = field(default_factory=list)  # load
    inputs: Inputs | None = None  # classify
    project: Project | None = None  # build
    plan: list[PlannedFile] = field(default_factory=list)  # lower: the files to render
    rendered: dict[str, str] | None = None  # emit: relative path -> text


Stage = Callable[[Work], Iterable[Diagnostic]]


def load(work: Work) -> Iterable[Diagnostic]:
    """Read every file: plain data with a span for every key and value."""
    found: list[Diagnostic] = []
    for path in work.files:
        source, doc, diagnostics = load_file(path)
        work.sources[path] = source
        found.extend(diagnostics)
        if doc is not None:
            work.docs.append(doc)
    return found


def validate(work: Work) -> Iterable[Diagnostic]:
    """Check each document against the language's JSON Schema."""
    return [d for doc in work.docs for d in schema.validate(doc)]


def find_inputs(work: Work) -> Iterable[Diagnostic]:
    """Tell the nodes file from the flow files."""
    work.inputs, found = classify(work.docs)
    return found


def build_model(work: Work) -> Iterable[Diagnostic]:
    """Build the typed model; building reports nothing, the checks do."""
    assert work.inputs is not None
    work.project = build(work.inputs.nodes, work.inputs.flows, work.files)
    return ()


def check_model(work: Work) -> Iterable[Diagnostic]:
    """Run the semantic checks over the model."""
    assert work.project is not None
    return run_checks(work.project)


# Findings `check` may report as warnings (`--compat`, or a module it cannot import) that `build`
# cannot get past, with what to do about them.
BUILD_BLOCKERS: Mapping[str, str] = {
    # Conditions pass arguments by the predicates' parameters, known only from the module.
    "SC408": "`selinonc build` imports custom predicate and strategy modules to compile "
    "conditions; run it where they import (set PYTHONPATH to the project's source)",
    # The package embeds each output schema, so the file must exist and be a JSON Schema.
    "SC506": "`selinonc build` embeds output schemas in the package; fix the file or the path",
    # A package whose task classes do not import fails on the workers, at the first task.
    "SC507": "`selinonc build` imports task modules to check their classes; run it where they "
    "import (set PYTHONPATH to the project's source)",
}


def lower_model(work: Work) -> Iterable[Diagnostic]:
    """Decide every table, name and literal of the package."""
    from selinonc.compiler import emit  # Jinja2 is imported only when building
    from selinonc.compiler.lower import lower

    assert work.project is not None
    first_party = emit.first_party_root(work.out_dir) if work.out_dir is not None else None
    work.plan = lower(work.project, first_party)
    return ()


def emit_files(work: Work) -> Iterable[Diagnostic]:
    """Render the planned files through their templates (in memory).

    Raises:
        EmitError: when a generated file does not compile (a bug in selinonc).
    """
    from selinonc.compiler import emit

    work.rendered = emit.render(work.plan)
    return ()


CHECK_STAGES: tuple[Stage, ...] = (load, validate, find_inputs, build_model, check_model)
BUILD_STAGES: tuple[Stage, ...] = (*CHECK_STAGES, lower_model, emit_files)


def _run(
    stages: Sequence[Stage], work: Work, *, blockers: Mapping[str, str]
) -> tuple[list[Diagnostic], int]:
    """The findings of the stages, with severities applied and allowed warnings left out, and
    how many warnings were left out."""
    reported: list[Diagnostic] = []
    for stage in stages:
        found = stage(work)
        reported += settle(_severity(d, work.compat, blockers) for d in found)
        if has_errors(reported):
            break
    allowed, problems = _allowances(work)
    kept = [d for d in reported if d.severity is not Severity.WARNING or d.code not in allowed]
    return settle([*kept, *problems]), len(reported) - len(kept)


def allow_problem(code: str, compat: bool) -> str | None:
    """Why `code` cannot be allowed, as "is ..." words, or None when it can: only warnings can.

    The one rule for `--allow` (a usage error) and `global.allow` (SC622).
    """
    if code not in CODES:
        return "is not a selinonc diagnostic code"
    if code in WARNING_CODES or (compat and code in COMPAT_WARNINGS):
        return None
    if code in COMPAT_WARNINGS:
        return "is an error without --compat, and only warnings can be allowed"
    return "is an error, and only warnings can be allowed"


def _allow_hint(code: str, compat: bool) -> str:
    if code not in CODES:
        allowable = WARNING_CODES | (COMPAT_WARNINGS if compat else frozenset())
        return did_you_mean(code, allowable) or "diagnostics show their code, e.g. SC502"
    if code in COMPAT_WARNINGS:
        return f"remove {code} from `allow`, or check with --compat"
    return f"remove {code} from `allow`, and fix what it reports"


def _allowances(work: Work) -> tuple[frozenset[str], list[Diagnostic]]:
    """The codes to leave out: --allow's and the project's `global.allow` (once the model is
    built), and an SC622 for each code of `global.allow` that cannot be allowed."""
    codes = set(work.allow)
    problems: list[Diagnostic] = []
    for ref in work.project.global_.allow if work.project is not None else ():
        problem = allow_problem(ref.name, work.compat)
        if problem is None:
            codes.add(ref.name)
            continue
        problems.append(
            Diagnostic.error(
                "SC622",
                ref.span,
                f"`allow` in the global section lists {ref.name}, which {problem}",
                hint=_allow_hint(ref.name, work.compat),
            )
        )
    return frozenset(codes), problems


def _severity(diagnostic: Diagnostic, compat: bool, blockers: Mapping[str, str]) -> Diagnostic:
    """Under --compat, added checks become warnings; `build` turns its blockers into errors."""
    if diagnostic.code in blockers:
        return diagnostic.as_error(blockers[diagnostic.code])
    if compat and diagnostic.code in COMPAT_WARNINGS:
        return diagnostic.as_warning()
    return diagnostic


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` found: all diagnostics, the sources they point into, and the model."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]
    project: Project | None
    allowed: int = 0  # warnings left out (--allow, `global.allow`)

    @property
    def ok(self) -> bool:
        """True when no diagnostic is an error."""
        return not has_errors(self.diagnostics)


def check(files: Sequence[str], *, compat: bool = False, allow: Iterable[str] = ()) -> CheckResult:
    """Run the stages of `CHECK_STAGES` over `files`.

    Args:
        files: input files, already expanded from directories (see `cli.inputs.expand`).
        compat: accept everything Selinon 1.4.0 accepts, reporting added checks as warnings.
        allow: warning codes not to report (each one `allow_problem` accepts).

    Returns:
        The diagnostics of every stage that ran, and the model when building succeeded.
    """
    work = Work(files, compat, frozenset(allow))
    reported, allowed = _run(CHECK_STAGES, work, blockers={})
    return CheckResult(tuple(reported), work.sources, work.project, allowed)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What `build` found and, when the inputs are free of errors, the generated files."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]
    files: dict[str, str] | None  # relative path -> text
    allowed: int = 0  # warnings left out (--allow, `global.allow`)

    @property
    def ok(self) -> bool:
        """True when no diagnostic is an error."""
        return not has_errors(self.diagnostics)


def build_package(
    files: Sequence[str],
    *,
    compat: bool = False,
    out_dir: str | None = None,
    allow: Iterable[str] = (),
) -> BuildResult:
    """Run the stages of `BUILD_STAGES`: check the inputs, then lower and emit (in memory).

    `out_dir`, where the package will be written, decides which imports are first party;
    `allow` as for `check` (a blocker `build` turns into an error stays reported).

    Raises:
        EmitError: when a generated file does not compile (a bug in selinonc).
    """
    work = Work(files, compat, frozenset(allow), out_dir)
    reported, allowed = _run(BUILD_STAGES, work, blockers=BUILD_BLOCKERS)
    rendered = None if has_errors(reported) else work.rendered
    return BuildResult(tuple(reported), work.sources, rendered, allowed)
