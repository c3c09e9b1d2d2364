"""Registry entries for ``lstm.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
