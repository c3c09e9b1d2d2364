"""What every application action prints: its headline numbers, and errors as one line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from dualnet.crosscheck_report import format_table as table

__all__ = ["fail", "print_summary", "report_training", "table"]


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


def fail(command: str, message: str, status: int = 1) -> int:
    """Print ``dualnet COMMAND: error: MESSAGE`` on stderr and return ``status``."""
    print(f"dualnet {command}: error: {message}", file=sys.stderr)
    return status


def report_training(application: str, result, when_finished: str = "") -> int:
    """Print where a training run is and its numbers, and how to continue it if it stopped.

    ``result`` is what an application's ``train`` returns (``out_dir``, ``summary``,
    ``finished``, ``interrupted``, ``steps``); ``when_finished`` is a line to print after a
    finished run (what to do next). Returns the exit status: 130 after Ctrl-C, else 0.
    """
    print(f"run directory: {result.out_dir}")
    print_summary(result.summary, result.out_dir / "summary.json")
    if result.finished:
        if when_finished:
            print(when_finished)
        return 0
    command = f"dualnet {application} train --resume {shlex.quote(str(result.out_dir))}"
    if result.interrupted:
        print(
            f"interrupted after step {result.steps}; the run is saved in "
            f"{result.out_dir / 'last.pt'}\ncontinue it with: {command}",
            file=sys.stderr,
        )
        return 130
    print(f"stopped after step {result.steps}; continue it with: {command}")
    return 0
