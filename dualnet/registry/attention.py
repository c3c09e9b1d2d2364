"""Registry entries for ``attention.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
