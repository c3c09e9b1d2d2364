"""Fixtures shared by the application tests: one data cache for the whole test run, so the
embedded datasets are generated once, and a free port for the data-parallel tests."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache_helpers import data_cache  # noqa: E402


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A data cache folder (``DUALNET_CACHE``) shared by every test of the run."""
    return data_cache(tmp_path_factory)


@pytest.fixture
def free_port() -> int:
    """A TCP port nobody listens on, for ``torchrun --master_port`` of a two-process test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
