"""The learner's commands: ``dualnet check --impl``, ``dualnet exercise`` and
``dualnet grade``.

``dualnet check --impl PATH.py|MODULE [NAME ...] [--dtype ...] [--json] [--timeout S]``
    Check the learner's own functions, found by the reference's names, as ``dualnet check``
    checks the reference; every disagreement named, diagnosed and linked to its derivation.
    Exit status 0 only when every check agrees, 1 otherwise, 2 for bad input.

``dualnet exercise NAME ... | --topic TOPIC --out FILE.py``
    Write a skeleton to fill in: signatures and docstrings, bodies that raise
    ``NotImplementedError``.

``dualnet grade DIR [--json | --csv FILE] [--timeout S]``
    Check every ``*.py`` of ``DIR``, each in its own process, and print one table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from tqdm import tqdm

from dualnet import crosscheck, registry
from dualnet.apps.output import fail
from dualnet.apps.settings import Range
from dualnet.learner import grade, report
from dualnet.learner.check import DEFAULT_TIMEOUT, check_learner_component, load_within
from dualnet.learner.exercise import write_exercise
from dualnet.learner.handin import HandinError, components_of

TIMEOUT = Range(float, 0, low_open=True)


def add_check_arguments(check: argparse.ArgumentParser) -> None:
    """``--impl`` and ``--timeout`` of ``dualnet check``."""
    check.add_argument(
        "--impl",
        metavar="PATH.py|MODULE",
        help="check your own implementation instead of the reference: every registered "
        "function your file defines under the reference's name (affine_forward, ...)",
    )
    check.add_argument(
        "--timeout",
        type=TIMEOUT.parser(),
        metavar="S",
        help=f"with --impl: seconds each component may take per dtype ({DEFAULT_TIMEOUT:g})",
    )


def load_handin(args: argparse.Namespace):
    """``(module, [(entry, functions)])`` of ``--impl``, or ``(None, the one-line error)``."""
    try:
        module = load_within(args.impl, args.timeout or DEFAULT_TIMEOUT)
        return module, components_of(module, args.names, label=args.impl)
    except HandinError as error:
        return None, f"--impl {error}"
    except ValueError as error:
        return None, f"NAME: {error}"


def run_check_impl(args: argparse.Namespace) -> int:
    """``dualnet check --impl``: the table (or JSON); exit 0 only when everything agrees."""
    module, found = load_handin(args)
    if module is None:
        return fail("check", found, 2)
    timeout = args.timeout or DEFAULT_TIMEOUT
    dtypes = crosscheck.DTYPES if args.dtype == "all" else (args.dtype,)
    jobs = [(c, f, d) for c, f in found for d in dtypes]
    # With --json, what the learner's code prints goes to stderr, not into the JSON.
    printing = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with printing:
        results = [
            check_learner_component(c, f, d, args.seed, timeout)
            for c, f, d in tqdm(jobs, desc="checking", unit="check", leave=False, disable=None)
        ]
    agrees = all(r.agrees for r in results)
    if args.json:
        payload = {
            "impl": args.impl,
            "seed": args.seed,
            "bounds": {d: vars(b) for d, b in crosscheck.BOUNDS.items()},
            "results": [r.to_dict() for r in results],
            "agrees": agrees,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(report.report(results, args.impl, args.seed))
    return 0 if agrees else 1


def run_exercise(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        path = write_exercise(args.names, args.topic, args.out)
    except FileExistsError:
        return fail(
            "exercise", f"--out {args.out}: exists already; an exercise is never overwritten", 2
        )
    except ValueError as error:
        return fail("exercise", str(error), 2)
    print(f"wrote {path}; fill it in, then check it with: dualnet check --impl {path}")
    return 0


def run_grade(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        grades = grade.grade_folder(args.dir, args.timeout)
    except ValueError as error:
        return fail("grade", str(error), 2)
    if args.json:
        print(json.dumps(grade.to_json(grades, args.dir, args.timeout), indent=2))
        return 0
    print(grade.report(grades, args.dir))
    if args.csv:
        grade.write_csv(grades, args.csv)
        print(f"wrote {args.csv}")
    return 0


def add_commands(commands) -> None:
    """``dualnet exercise`` and ``dualnet grade``."""
    topics = sorted({c.topic for c in registry.COMPONENTS.values()})
    exercise = commands.add_parser(
        "exercise",
        help="write an exercise skeleton to fill in and check with dualnet check --impl",
        description="Write a file with the reference's signatures and docstrings and bodies "
        "that raise NotImplementedError, for the components named or a whole topic. Never "
        "overwrites a file.",
    )
    exercise.add_argument("names", nargs="*", metavar="NAME", help="components (affine, ...)")
    exercise.add_argument("--topic", choices=topics, help="every component of a topic")
    exercise.add_argument("--out", required=True, metavar="FILE.py", help="the file to write")
    exercise.set_defaults(run=run_exercise, parser=exercise)

    grading = commands.add_parser(
        "grade",
        help="check every hand-in of a folder and print one table",
        description="Check every *.py of DIR with dualnet check --impl, each in its own "
        "process, in a fresh working folder and with a time limit. This RUNS the hand-ins' "
        "code with your rights; it is not a sandbox.",
    )
    grading.add_argument("dir", metavar="DIR", help="folder of hand-ins (*.py)")
    output = grading.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON")
    output.add_argument("--csv", metavar="FILE", help="also write one row per check to FILE")
    grading.add_argument(
        "--timeout",
        type=TIMEOUT.parser(),
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds each component may take per dtype ({DEFAULT_TIMEOUT:g})",
    )
    grading.set_defaults(run=run_grade, parser=grading)
