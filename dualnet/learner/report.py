"""The text of ``dualnet check --impl``: a table of the learner's results, then what to fix,
each disagreement with its error, its diagnosis and the derivation section to read."""

from __future__ import annotations

from dualnet import crosscheck
from dualnet.crosscheck_report import format_bound, format_error, format_table
from dualnet.learner.check import LearnerResult

VERDICTS = {
    "agrees": "agrees",
    "disagrees": "DISAGREES",
    "error": "ERROR",
    "not_implemented": "not written",
    "changed_input": "CHANGES INPUT",
    "timeout": "TIMEOUT",
}


CHECKS = {
    "forward": "PyTorch's forward",
    "autograd": "autograd",
    "finite differences": "finite differences",
}


def format_measured(value: float | None) -> str:
    return "n/a" if value is None else format_error(value)


def format_gradients(errors: dict[str, float | None] | None) -> str:
    if not errors:
        return "-"
    return "  ".join(f"d{name} {format_measured(value)}" for name, value in errors.items())


def rows(results: list[LearnerResult]) -> list[list[str]]:
    return [
        [
            r.key,
            r.dtype,
            "-" if r.forward is None else format_error(r.forward),
            format_gradients(r.autograd),
            format_gradients(r.finite_differences),
            VERDICTS[r.status],
        ]
        for r in results
    ]


def details(result: LearnerResult) -> list[str]:
    """What is wrong with one result: one line per problem, and for each output or gradient
    that disagrees its error, its diagnosis and the section to read."""
    lines = [f"    {note}" for note in result.notes]
    for finding in result.findings:
        measured = "not measurable" if finding.error is None else format_error(finding.error)
        lines.append(
            f"    {finding.name} vs {CHECKS[finding.check]}: error {measured} "
            f"(bound {format_bound(finding.bound)})"
        )
        if finding.diagnosis:
            lines.append(f"      diagnosis: {finding.diagnosis}")
        lines.append(f"      read: {finding.see}")
    return lines


def what_to_fix(results: list[LearnerResult]) -> list[str]:
    """The details of every result that does not agree. A float32 result with the same
    problems and diagnoses as its float64 twin joins the twin's heading instead of
    repeating them (its errors are in the table)."""
    lines, previous = [], None
    for result in results:
        if result.agrees:
            continue
        same_as = (result.key, result.message, [(f.name, f.diagnosis) for f in result.findings])
        if previous and previous[0] == same_as:
            lines[previous[1]] = lines[previous[1]].replace("):", f", {result.dtype}):")
            continue
        lines.append(f"  {result.key} ({result.dtype}):")
        previous = (same_as, len(lines) - 1)
        lines += details(result)
    return lines


def report(results: list[LearnerResult], target: str, seed: int) -> str:
    """The text ``dualnet check --impl`` prints."""
    bounds = "; ".join(
        f"{dtype}: forward {format_bound(b.forward)}, autograd {format_bound(b.autograd)}"
        + (
            f", finite differences {format_bound(b.finite_differences)}"
            if b.finite_differences
            else ""
        )
        for dtype, b in crosscheck.BOUNDS.items()
    )
    header = ["component", "dtype", "forward", "backward vs autograd", "vs finite diff.", "verdict"]
    lines = [
        f"dualnet check --impl {target}: your functions vs PyTorch, seed {seed}",
        "largest relative error (elementwise in float64, normwise in float32)",
        f"bounds: {bounds}",
        "",
        format_table(rows(results), header),
        "",
    ]
    agreeing = sum(r.agrees for r in results)
    if agreeing == len(results):
        lines.append(f"all {len(results)} checks agree.")
        return "\n".join(lines)
    lines.append(f"{len(results) - agreeing} of {len(results)} checks do not agree yet:")
    lines += what_to_fix(results)
    return "\n".join(lines)
