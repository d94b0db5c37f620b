"""kjob history: the jobs kjob submitted from here."""

from __future__ import annotations

from kjob.history import History


def history(record: History, limit: int) -> list[dict]:
    """The newest `limit` entries of kjob's record (0: none, as `tail -n 0`), oldest first."""
    return record.entries()[-limit:] if limit else []
