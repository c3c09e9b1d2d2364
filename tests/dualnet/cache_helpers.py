"""Where the tests keep the caches that every test of a run shares."""

from __future__ import annotations

import os
from pathlib import Path


def run_folder(tmp_path_factory) -> Path:
    """The temporary folder of the whole test run. Under pytest-xdist each worker has its own
    base folder inside it (``popen-gw0``, ...); a cache kept here is shared by the workers. Two
    workers that fill one cache at once are safe: every cache file is written atomically and
    each helper network is built by one process while the others wait (its ``.lock``)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


def shared_folder(tmp_path_factory, name: str) -> Path:
    """The folder ``name`` of :func:`run_folder`, made if needed."""
    path = run_folder(tmp_path_factory) / name
    path.mkdir(exist_ok=True)
    return path


def data_cache(tmp_path_factory) -> Path:
    """The data cache (``DUALNET_CACHE``) of the whole run: the embedded datasets, the MNIST
    digits and the GAN scorer are made once, whichever test needs them first."""
    return shared_folder(tmp_path_factory, "dualnet-cache")
