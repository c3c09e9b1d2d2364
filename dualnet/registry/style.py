"""Registry entries for ``style.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
