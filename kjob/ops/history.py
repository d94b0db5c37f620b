"""kjob history: the jobs kjob submitted from here."""

from __future__ import annotations

from kjob.history import History


def history(record: History, limit: int) -> list[dict]:
    """The newest `limit` entries of kjob's record (0: all), oldest first."""
    entries = record.entries()
    return entries[-limit:] if limit else entries
