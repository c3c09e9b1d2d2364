"""Registry entries for ``gan.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
