"""The one way dualnet writes a file: whole or not at all.

:func:`atomic_write` writes into a temporary file next to the target (``.NAME.PID.tmp``),
flushes it to disk, then renames it over the target. A process killed at any moment leaves
either the old file or the new one, never half of one; two processes writing the same file at
once (the ranks of a data-parallel run filling one cache) each write their own temporary
file, and the last rename wins. A killed process leaves at most one temporary file per file it
was writing; :func:`dualnet.apps.runs.open_run_dir` removes those of a run directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO


class WriteError(OSError):
    """A file could not be written (a full disk, a read-only folder); the file it was to
    replace, if any, is kept as it was."""


def temporary_path(path: Path) -> Path:
    """Where :func:`atomic_write` writes before the rename: ``.NAME.PID.tmp`` beside ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on a temporary file, flush it to disk, then rename it to ``path``.

    If ``write`` fails, the temporary file is removed and ``path`` keeps its old contents.

    Raises:
        WriteError: the file system refused the write (an ``OSError``, or the
            ``RuntimeError`` with which ``torch.save`` reports one), naming ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:
        temporary.unlink(missing_ok=True)
        kept = "the previous one is kept" if path.exists() else "nothing was written"
        reason = (getattr(error, "strerror", None) or str(error)).strip().splitlines()[-1]
        raise WriteError(f"cannot write {path} ({reason}); {kept}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
