"""kjob's local record of the jobs it submitted: id, tag, endpoint, cluster and time, nothing else.

It lets a job named by id be found by its tag on another cluster of the ring after the cluster
that gave the id has gone, and gives the REF `@last`. The record is a JSON-lines file in the
user's state folder; every write holds an exclusive lock, so two kjob processes never mix
their lines, and it is trimmed to the newest MAX_ENTRIES jobs.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kjob.errors import BadInput

FILE_NAME = "jobs.jsonl"
MAX_ENTRIES = 1000
FIELDS = ("job_id", "job_tag", "endpoint", "cluster", "submitted_at")


class History:
    def __init__(self, folder: str) -> None:
        self.folder = str(folder)
        self.path = os.path.join(self.folder, FILE_NAME)
        self._entries: list[dict] | None = None  # read once: a wait may ask for tags on every poll

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on a file of its own, so that trimming (a rename) never loses a line."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        lock = os.open(os.path.join(self.folder, "jobs.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)  # closing releases the lock

    def add(self, job_id: int, job_tag: str, endpoint: str, cluster: str) -> None:
        """Append one job; raises OSError when the state folder cannot be written."""
        entry = {"job_id": job_id, "job_tag": job_tag, "endpoint": endpoint, "cluster": cluster,
                 "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        self._entries = None
        with self._locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > MAX_ENTRIES * 2 * len(line):
                self._trim()

    def _trim(self) -> None:
        """Keep the newest MAX_ENTRIES lines (called with the lock held)."""
        with open(self.path, "rb") as handle:
            lines = handle.read().splitlines(keepends=True)[-MAX_ENTRIES:]
        temporary = os.path.join(self.folder, "jobs.trim")
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(b"".join(lines))
        os.replace(temporary, self.path)

    def entries(self) -> list[dict]:
        """Every recorded job, oldest first; unreadable lines are skipped."""
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> list[dict]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BadInput(f"cannot read kjob's job record {self.path}: {exc.strerror or exc}") from None
        found = []
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and all(field in entry for field in FIELDS):
                found.append(entry)
        return found

    def last(self) -> dict:
        entries = self.entries()
        if not entries:
            raise BadInput(f"@last names the newest job kjob submitted, but its record is empty ({self.path})")
        return entries[-1]

    def tag_of(self, job_id: int, cluster: str) -> str | None:
        """The tag of the job `cluster` numbered `job_id`, if kjob submitted it."""
        for entry in reversed(self.entries()):
            if entry["job_id"] == job_id and entry["cluster"] == cluster:
                return entry["job_tag"]
        return None
