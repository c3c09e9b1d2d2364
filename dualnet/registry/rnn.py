"""Registry entries for ``rnn.py`` in both backends."""

from __future__ import annotations

ENTRIES: list = []
