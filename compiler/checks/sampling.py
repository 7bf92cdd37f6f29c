"""SC611, SC612, SC618 (and SC408 for strategies): a flow's `sampling` strategy and its `args`."""

from __future__ import annotations

from collections.abc import Iterator

from selinonc.compiler import signatures
from selinonc.compiler.builtins import STATUS, STRATEGIES, STRATEGY_IMPLICIT
from selinonc.compiler.checks._text import Check, args_span, arguments, quoted
from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.model import Flow, Project, Sampling
from selinonc.compiler.signatures import ArgsMatch, Catalog, Signature, params_hint


def _sampled(project: Project) -> Iterator[tuple[Flow, Sampling, Catalog]]:
    """Flows with an explicit `sampling`, with their strategies module."""
    for flow in project.flows:
        if flow.sampling is not None:
            yield flow, flow.sampling, signatures.strategies(flow.sampling.import_)


def _strategies(project: Project) -> Iterator[tuple[Flow, Sampling, Signature]]:
    """Flows whose sampling strategy is known, with its signature."""
    for flow, sampling, catalog in _sampled(project):
        signature = catalog.functions.get(sampling.name)
        if signature is not None:
            yield flow, sampling, signature


def _match(sampling: Sampling, signature: Signature) -> ArgsMatch:
    return signatures.match_args(signature, STRATEGY_IMPLICIT, tuple(sampling.args))


def check_strategies_module(project: Project) -> Iterator[Diagnostic]:
    """SC408: a custom `sampling.import` cannot be imported (reported once per module)."""
    reported: list[str] = []
    for flow, sampling, catalog in _sampled(project):
        if catalog.error is None or catalog.module in reported:
            continue
        reported.append(catalog.module)
        yield Diagnostic.warning(
            "SC408",
            sampling.import_span,
            f"cannot import the sampling strategies module {catalog.module!r} of flow "
            f"{flow.name!r} ({catalog.error}); its strategies and arguments are not checked",
            hint="selinonc imports custom strategy modules from the current directory and "
            "PYTHONPATH, as the workers do; run it where the module imports without error",
        )


def check_strategy_known(project: Project) -> Iterator[Diagnostic]:
    """SC612: the sampling strategy is not in its module."""
    for flow, sampling, catalog in _sampled(project):
        if catalog.error is not None or sampling.name in catalog.functions:
            continue
        if catalog.builtin:
            known = "the built-in strategies are " + ", ".join(repr(n) for n in STRATEGIES)
        else:
            known = f"module {catalog.module!r} has no function of that name"
        yield Diagnostic.error(
            "SC612",
            sampling.name_span,
            f"unknown sampling strategy {sampling.name!r} in flow {flow.name!r}",
            hint=did_you_mean(sampling.name, catalog.suggestions()) or known,
        )


def check_strategy_args_given(project: Project) -> Iterator[Diagnostic]:
    """SC611: `sampling.args` miss a parameter of the strategy, or give `status`."""
    for flow, sampling, signature in _strategies(project):
        where = f"sampling strategy {sampling.name!r} of flow {flow.name!r}"
        if STATUS not in signature.params and not signature.open:
            yield Diagnostic.error(
                "SC611",
                sampling.name_span,
                f"{where} takes no `status` parameter, so the dispatcher cannot call it",
                hint="a strategy is called as `f(status, **args)`; add `status` first",
            )
        yield from _missing_args(flow, sampling, _match(sampling, signature), where)


def _missing_args(
    flow: Flow, sampling: Sampling, match: ArgsMatch, where: str
) -> Iterator[Diagnostic]:
    """SC611 for one strategy: `status` given, misspelt arguments, then missing ones."""
    for name in match.implicit:
        yield Diagnostic.error(
            "SC611",
            sampling.arg_spans.get(name, sampling.span),
            f"`sampling.args` of flow {flow.name!r} give {name!r}, which the dispatcher "
            "fills in itself",
            hint=f"remove {name!r} from `args`",
        )
    for name, meant in match.misspelt:
        yield Diagnostic.error(
            "SC611",
            sampling.arg_spans.get(name, sampling.span),
            f"{where} is missing argument {meant!r}: it has no parameter {name!r}",
            hint=did_you_mean(name, [meant]) or f"rename {name!r} to {meant!r}",
        )
    if match.missing:
        yield Diagnostic.error(
            "SC611",
            args_span(sampling.arg_spans, sampling.name_span),
            f"{where} is missing {arguments(match.missing)}",
            hint=f"add {quoted(match.missing)} under `args`",
        )


def check_strategy_args_extra(project: Project) -> Iterator[Diagnostic]:
    """SC618: `sampling.args` give an argument the strategy does not take (Selinon ignores it).

    A misspelt argument is not reported here: it is SC611's missing argument.
    """
    for flow, sampling, signature in _strategies(project):
        match = _match(sampling, signature)
        explicit = [p for p in signature.params if p not in STRATEGY_IMPLICIT]
        for name in match.extra:
            yield Diagnostic.error(
                "SC618",
                sampling.arg_spans.get(name, sampling.span),
                f"sampling strategy {sampling.name!r} of flow {flow.name!r} has no parameter "
                f"{name!r}",
                hint=params_hint(explicit),
            )


CHECKS: tuple[Check, ...] = (
    check_strategies_module,
    check_strategy_known,
    check_strategy_args_given,
    check_strategy_args_extra,
)
