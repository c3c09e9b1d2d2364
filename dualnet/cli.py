"""The ``dualnet`` command line (also ``python -m dualnet``).

``dualnet check [NAME ...] [--dtype float32|float64|all] [--json] [--seed N]``
    Cross-check every registered component (or the ones named): NumPy forward vs PyTorch
    forward, NumPy backward vs autograd, and in float64 NumPy backward vs finite differences.
    Prints one row per component and dtype, exits 1 when anything disagrees.

``dualnet check --impl PATH.py|MODULE [NAME ...] [--timeout S]``
    Check a learner's own implementation the same way, each disagreement diagnosed; with
    ``dualnet exercise`` (a skeleton to fill in) and ``dualnet grade DIR`` (a folder of
    hand-ins) in :mod:`dualnet.learner.cli`.

``dualnet list``
    The registered components, their topic and the functions that implement them.

``dualnet <application> <action> [options] --out DIR``
    One line per application below adds its commands (``dualnet classify train|eval|models``);
    each application package (:mod:`dualnet.apps`) defines them in its ``cli`` module
    (``dualnet visualize ...``, ``dualnet caption ...``, ``dualnet gan ...``,
    ``dualnet style ...``).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from tqdm import tqdm

from dualnet import __version__, crosscheck, registry
from dualnet.apps.caption import cli as caption
from dualnet.apps.classify import cli as classify
from dualnet.apps.gan import cli as gan
from dualnet.apps.settings import SEED
from dualnet.apps.style import cli as style
from dualnet.apps.visualize import cli as visualize
from dualnet.crosscheck_report import format_table, report
from dualnet.learner import cli as learner


def check_device(device: str) -> str:
    """``--device`` of ``dualnet check``: ``cpu``, or ``cuda`` where a CUDA GPU is."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "--device cuda: no CUDA GPU here (torch.cuda.is_available() is False); use --device cpu"
        )
    return device


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.impl:
        if args.device != "cpu":
            parser.error("--device: --impl checks on the CPU only")
        return learner.run_check_impl(args)
    if args.timeout is not None:
        parser.error("--timeout: applies to --impl only")
    try:
        components = registry.select(args.names)
        device = check_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    dtypes = crosscheck.DTYPES if args.dtype == "all" else (args.dtype,)
    jobs = [
        (c, d, setting)
        for c in components
        for d in dtypes
        for setting in crosscheck.settings_for(d, device)
    ]
    results = [
        crosscheck.check_component(c, d, args.seed, device, setting)
        for c, d, setting in tqdm(jobs, desc="checking", unit="check", leave=False, disable=None)
    ]
    agrees = all(r.agrees for r in results)
    if args.json:
        bounds = {d: vars(b) for d, b in crosscheck.BOUNDS.items()}
        payload = {
            "seed": args.seed,
            "device": device,
            "bounds": bounds,
            "results": [r.to_dict() for r in results],
            "agrees": agrees,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(report(results, args.seed, device))
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
    parser.add_argument("--version", action="version", version=f"dualnet {__version__}")
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
    check.add_argument(
        "--seed", type=SEED.parser(), default=0, help="seed of the random inputs (0)"
    )
    check.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the PyTorch side runs (NumPy stays on the CPU); on cuda the float32 rows "
        "come twice, with PyTorch's TF32 defaults and with TF32 off (cpu)",
    )
    learner.add_check_arguments(check)
    check.set_defaults(run=run_check, parser=check)

    listing = commands.add_parser("list", help="list the registered components")
    listing.set_defaults(run=run_list, parser=listing)

    classify.add_commands(commands)
    visualize.add_commands(commands)
    gan.add_commands(commands)
    caption.add_commands(commands)
    style.add_commands(commands)
    learner.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dualnet.apps import runs
    from dualnet.files import WriteError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args, args.parser)  # errors come under the subcommand's usage line
    except WriteError as error:  # a full disk: one line, whatever the command was writing
        print(f"{args.parser.prog}: error: {error}", file=sys.stderr)
        return 1
    finally:
        runs.release_run()  # the command wrote its runs: another process may take them on


if __name__ == "__main__":
    sys.exit(main())
