"""The ``dualnet`` command line (also ``python -m dualnet``).

``dualnet check [NAME ...] [--dtype float32|float64|all] [--json] [--seed N]``
    Cross-check every registered component (or the ones named): NumPy forward vs PyTorch
    forward, NumPy backward vs autograd, and in float64 NumPy backward vs finite differences.
    Prints one row per component and dtype, exits 1 when anything disagrees.

``dualnet list``
    The registered components, their topic and the functions that implement them.
"""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from dualnet import crosscheck, registry


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


def report(results: list[crosscheck.CheckResult], seed: int) -> str:
    """The human-readable table ``dualnet check`` prints."""
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
            r.dtype,
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
        f"dualnet check: NumPy reference vs PyTorch, seed {seed}",
        "largest relative error (elementwise in float64, normwise in float32)",
        f"bounds: {bounds}",
        "",
        format_table(rows, header),
        "",
    ]
    if failed:
        lines.append(f"{len(failed)} of {len(results)} checks disagree:")
        lines += [f"  {r.key} {r.dtype}: {'; '.join(r.failures())}" for r in failed]
    else:
        lines.append(f"all {len(results)} checks agree.")
    return "\n".join(lines)


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        components = registry.select(args.names)
    except ValueError as error:
        parser.error(str(error))
    dtypes = crosscheck.DTYPES if args.dtype == "all" else (args.dtype,)
    jobs = [(c, d) for c in components for d in dtypes]
    results = [
        crosscheck.check_component(c, d, args.seed)
        for c, d in tqdm(jobs, desc="checking", unit="check", leave=False, disable=None)
    ]
    agrees = all(r.agrees for r in results)
    if args.json:
        bounds = {d: vars(b) for d, b in crosscheck.BOUNDS.items()}
        payload = {
            "seed": args.seed,
            "bounds": bounds,
            "results": [r.to_dict() for r in results],
            "agrees": agrees,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(report(results, args.seed))
    return 0 if agrees else 1


def run_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    rows = [
        [c.key, c.topic, c.summary, ", ".join(c.implementations)]
        for c in registry.COMPONENTS.values()
    ]
    print(format_table(rows, ["component", "topic", "computes", "implemented by"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dualnet",
        description="Deep learning for computer vision, built twice: NumPy and PyTorch.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="cross-check the NumPy reference against PyTorch and finite differences",
        description="Cross-check every component (or the ones named) in each dtype: NumPy "
        "forward vs PyTorch, NumPy backward vs autograd, and in float64 NumPy backward vs "
        "centred finite differences. Exits 1 when anything disagrees.",
    )
    check.add_argument(
        "names", nargs="*", metavar="NAME", help="components to check (default: all)"
    )
    check.add_argument(
        "--dtype", choices=[*crosscheck.DTYPES, "all"], default="all", help="default: all"
    )
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    check.set_defaults(run=run_check)

    listing = commands.add_parser("list", help="list the registered components")
    listing.set_defaults(run=run_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
