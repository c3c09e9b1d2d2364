"""Registry entries for ``optim.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
