"""Registry entries for ``conv.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
