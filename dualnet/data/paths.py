"""Where datasets are kept on disk."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "DUALNET_CACHE"
DEFAULT_CACHE = Path("~") / ".cache" / "dualnet"


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The folder datasets are read from and cached in.

    Args:
        path: An explicit folder; wins over everything else.

    Returns:
        ``path`` if given, else the value of the environment variable ``DUALNET_CACHE`` if set
        and not empty, else ``~/.cache/dualnet``; with ``~`` expanded.
    """
    if path is None:
        path = os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE
    return Path(path).expanduser()


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says how to get it."""
