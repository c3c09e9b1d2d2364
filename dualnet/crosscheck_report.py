"""The text of ``dualnet check``: errors, bounds and the table, shared with the docs' agreement
table (``docs/_ext/agreement.py``)."""

from __future__ import annotations

from dualnet import crosscheck


def format_error(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def format_bound(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def format_errors(errors: dict[str, float] | None) -> str:
    if not errors:
        return "-"
    return "  ".join(f"d{name} {format_error(value)}" for name, value in errors.items())


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def dtype_label(result: crosscheck.CheckResult) -> str:
    """``float64``, ``float32``, or on a GPU ``float32, TF32 default`` / ``float32, TF32 off``."""
    return result.dtype if result.tf32 is None else f"{result.dtype}, TF32 {result.tf32}"


def report(results: list[crosscheck.CheckResult], seed: int, device: str = "cpu") -> str:
    """The human-readable table ``dualnet check`` prints (PyTorch on ``device``)."""
    bounds = "; ".join(
        f"{dtype}: forward {format_bound(b.forward)}, autograd {format_bound(b.autograd)}"
        + (
            f", finite differences {format_bound(b.finite_differences)}"
            if b.finite_differences
            else ""
        )
        for dtype, b in crosscheck.BOUNDS.items()
    )
    rows = [
        [
            r.key,
            dtype_label(r),
            format_error(r.forward),
            format_errors(r.autograd),
            format_errors(r.finite_differences),
            "agrees" if r.agrees else "DISAGREES",
        ]
        for r in results
    ]
    header = ["component", "dtype", "forward", "backward vs autograd", "vs finite diff.", "verdict"]
    failed = [r for r in results if not r.agrees]
    lines = [
        f"dualnet check: NumPy reference vs PyTorch on {device}, seed {seed}",
        "largest relative error (elementwise in float64, normwise in float32)",
        f"bounds: {bounds}",
        "",
        format_table(rows, header),
        "",
    ]
    if failed:
        lines.append(f"{len(failed)} of {len(results)} checks disagree:")
        lines += [f"  {r.key} {dtype_label(r)}: {'; '.join(r.failures())}" for r in failed]
    else:
        lines.append(f"all {len(results)} checks agree.")
    return "\n".join(lines)
