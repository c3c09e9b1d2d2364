"""Shared test helpers. Tests are grouped by topic markers (``pytest -m layers``).

Tests marked ``cuda`` exercise what runs only on a GPU (bf16 autocast, channels-last,
``torch.compile``, every application with ``--device cuda``). Where there is no GPU they are
skipped with a reason that says so; ``pytest -m cuda`` runs them alone, and ``make gpu``
(``benchmarks/gpu_suite.py``) runs them as its first item.
"""

from __future__ import annotations

import numpy as np
import pytest

NO_CUDA = (
    "needs a CUDA GPU and torch.cuda.is_available() is False here; on a machine with a GPU, "
    "`pytest -m cuda` or `make gpu` runs it"
)


def pytest_collection_modifyitems(config, items):
    """Run the modules that hold a ``slow`` test first, and skip the ``cuda`` tests, saying
    why, when no GPU is available (torch is imported only when such a test was collected)."""
    _slow_modules_first(items)
    cuda_items = [item for item in items if item.get_closest_marker("cuda")]
    if not cuda_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    for item in cuda_items:
        item.add_marker(pytest.mark.skip(reason=NO_CUDA))


def _slow_modules_first(items) -> None:
    """Reorder ``items`` so that the modules holding a test marked ``slow`` come first, each
    module's tests still together and in their order. ``make test`` hands whole modules to
    its pytest-xdist workers in this order: the long modules start early and the many short
    ones fill in at the end, so that the workers finish together."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
