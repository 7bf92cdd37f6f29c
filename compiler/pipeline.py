"""The compiler's stages in order; it stops after the first stage that reports errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from selinonc.compiler import schema
from selinonc.compiler.build import build
from selinonc.compiler.checks import run_checks
from selinonc.compiler.diagnostics import COMPAT_WARNINGS, Diagnostic, has_errors, settle
from selinonc.compiler.inputs import classify
from selinonc.compiler.load import Document, load_file
from selinonc.compiler.model import Project
from selinonc.compiler.source import SourceFile


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` found: all diagnostics, the sources they point into, and the model."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]
    project: Project | None

    @property
    def ok(self) -> bool:
        """True when no diagnostic is an error."""
        return not has_errors(self.diagnostics)


def _settle(found: Iterable[Diagnostic], compat: bool) -> list[Diagnostic]:
    """Sort a stage's findings; under --compat, added checks become warnings."""
    return settle(d.as_warning() if compat and d.code in COMPAT_WARNINGS else d for d in found)


def check(files: Sequence[str], *, compat: bool = False) -> CheckResult:
    """Run load, schema, classify, build and the semantic checks over `files`.

    Args:
        files: input files, already expanded from directories (see `inputs.expand`).
        compat: accept everything Selinon 1.4.0 accepts, reporting added checks as warnings.

    Returns:
        The diagnostics of every stage that ran, and the model when building succeeded.
    """
    sources: dict[str, SourceFile] = {}
    docs: list[Document] = []
    found: list[Diagnostic] = []
    for path in files:
        source, doc, diagnostics = load_file(path)
        sources[path] = source
        found.extend(diagnostics)
        if doc is not None:
            docs.append(doc)
    reported = _settle(found, compat)
    if has_errors(reported):
        return _result(reported, sources, None)

    reported += _settle((d for doc in docs for d in schema.validate(doc)), compat)
    if has_errors(reported):
        return _result(reported, sources, None)

    inputs, diagnostics = classify(docs)
    reported += _settle(diagnostics, compat)
    if inputs is None:
        return _result(reported, sources, None)

    project = build(inputs.nodes, inputs.flows, files)
    reported += _settle(run_checks(project), compat)
    return _result(reported, sources, project)


def _result(
    reported: list[Diagnostic], sources: dict[str, SourceFile], project: Project | None
) -> CheckResult:
    return CheckResult(tuple(settle(reported)), sources, project)


# Findings `check` may report as warnings (`--compat`, or a module it cannot import) that `build`
# cannot get past, with what to do about them.
BUILD_BLOCKERS: Mapping[str, str] = {
    # Conditions pass arguments by the predicates' parameters, known only from the module.
    "SC408": "`selinonc build` imports custom predicate and strategy modules to compile "
    "conditions; run it where they import (set PYTHONPATH to the project's source)",
    # The package embeds each output schema, so the file must exist and be a JSON Schema.
    "SC506": "`selinonc build` embeds output schemas in the package; fix the file or the path",
}


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What `build` found and, when the inputs are free of errors, the generated files."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile]
    files: dict[str, str] | None  # relative path -> text

    @property
    def ok(self) -> bool:
        """True when no diagnostic is an error."""
        return not has_errors(self.diagnostics)


def build_package(
    files: Sequence[str], *, compat: bool = False, out_dir: str | None = None
) -> BuildResult:
    """Check the inputs, then lower and emit the generated package (in memory).

    `out_dir`, where the package will be written, decides which imports are first party.

    Raises:
        EmitError: when a generated file does not compile (a bug in selinonc).
    """
    from selinonc.compiler import emit  # Jinja2 is imported only when building
    from selinonc.compiler.lower import lower

    checked = check(files, compat=compat)
    found = [
        d.as_error(BUILD_BLOCKERS[d.code]) if d.code in BUILD_BLOCKERS else d
        for d in checked.diagnostics
    ]
    diagnostics = tuple(settle(found))
    if has_errors(diagnostics) or checked.project is None:
        return BuildResult(diagnostics, checked.sources, None)
    texts = {path: source.text for path, source in checked.sources.items()}
    first_party = emit.first_party_root(out_dir) if out_dir is not None else None
    rendered = emit.render(lower(checked.project, texts, first_party))
    return BuildResult(diagnostics, checked.sources, rendered)
