"""Fixtures shared by the application tests: one data cache for the whole session, so the
embedded datasets are generated once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """A data cache folder (``DUALNET_CACHE``) shared by every test of the session."""
    return tmp_path_factory.mktemp("dualnet-cache")
