"""What every application action prints: its headline numbers, and errors as one line."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from dualnet.apps.settings import ConfigError
from dualnet.crosscheck_report import format_table as table

__all__ = ["fail", "print_json", "print_summary", "report_training", "run_training", "table"]


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 6:
        return f"[{', '.join(format_value(v) for v in value[:6])}, ...] ({len(value)} values)"
    if isinstance(value, list):
        return f"[{', '.join(format_value(v) for v in value)}]"
    return str(value)


def print_summary(summary: dict, path: str | Path | None = None) -> None:
    """Print ``summary`` one ``key: value`` per line, then where it was written."""
    width = max((len(key) for key in summary), default=0)
    for key, value in summary.items():
        print(f"{key.ljust(width)}  {format_value(value)}")
    if path is not None:
        print(f"wrote {path}")


def print_json(summary: dict) -> None:
    """Print ``summary`` as indented JSON (what ``--json`` asks for)."""
    print(json.dumps(summary, indent=2))


def fail(command: str, message: str, status: int = 1) -> int:
    """Print ``dualnet COMMAND: error: MESSAGE`` on stderr and return ``status``."""
    print(f"dualnet {command}: error: {message}", file=sys.stderr)
    return status


def report_training(application: str, result, when_finished: str = "", as_json=False) -> int:
    """Print where a training run is and its numbers, and how to continue it if it stopped.

    ``result`` is what an application's ``train`` returns (``out_dir``, ``summary``,
    ``finished``, ``interrupted``, ``steps``); ``when_finished`` is a line to print after a
    finished run (what to do next); ``as_json`` prints the summary alone, as JSON. Returns the
    exit status: 130 after Ctrl-C, else 0.
    """
    if as_json:
        print_json(result.summary)
    else:
        print(f"run directory: {result.out_dir}")
        print_summary(result.summary, result.out_dir / "summary.json")
    if result.finished:
        if when_finished and not as_json:
            print(when_finished)
        return 0
    stream = sys.stderr if as_json else sys.stdout
    command = f"dualnet {application} train --resume {shlex.quote(str(result.out_dir))}"
    if result.interrupted:
        print(
            f"interrupted after step {result.steps}; the run is saved in "
            f"{result.out_dir / 'last.pt'}\ncontinue it with: {command}",
            file=sys.stderr,
        )
        return 130
    print(f"stopped after step {result.steps}; continue it with: {command}", file=stream)
    return 0


def run_training(
    application: str, start, parser, errors: tuple, as_json=False, when_finished: str = ""
) -> int:
    """The action ``APPLICATION train``: ``start()`` reads the configuration and trains,
    returning what the application's ``train`` returns; this turns what can go wrong into an
    exit status and reports the run (:func:`report_training`, on the main process only).

    A ``ConfigError`` is a usage error of ``parser`` (status 2, naming the flag); one of
    ``errors`` (a checkpoint or data that cannot be used) and a non-finite loss end in one
    line with status 1; Ctrl-C before the loop catches it, in one line with status 130.
    ``when_finished`` may name the run as ``{run}``.
    """
    command = f"{application} train"
    try:
        result = start()
    except ConfigError as error:
        parser.error(str(error))
    except errors as error:
        return fail(command, str(error))
    except FloatingPointError as error:
        return fail(command, f"training stopped: {error}")
    except KeyboardInterrupt:
        return fail(command, "interrupted", status=130)
    if not result.is_main:
        return 0
    next_step = when_finished.format(run=shlex.quote(str(result.out_dir)))
    return report_training(application, result, when_finished=next_step, as_json=as_json)
