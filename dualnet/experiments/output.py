"""What every application action prints: its headline numbers, and errors as one line."""

from __future__ import annotations

import sys
from pathlib import Path

from dualnet.crosscheck_report import format_table as table

__all__ = ["fail", "print_summary", "table"]


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
