"""kjob's local record of the jobs it submitted: id, tag, endpoint, cluster, time and a digest of
the payload, nothing else.

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
LOCK_WAIT = 5.0  # seconds to wait for another kjob to release the record (at most; the command's deadline may say less)
LOCK_POLL = 0.02
MAX_READ = 1 << 24  # bytes: MAX_ENTRIES lines are far fewer


def _tail(handle) -> bytes:
    """The file's whole lines within its last MAX_READ bytes (all of a file kjob wrote)."""
    size = os.fstat(handle.fileno()).st_size
    if size > MAX_READ:
        handle.seek(size - MAX_READ)
        handle.readline()  # the rest of a line cut in two
    return handle.read()


def _well_formed(entry: object) -> bool:
    """A line kjob wrote: every field there, of its type (a job id a long, the rest strings)."""
    if not isinstance(entry, dict) or not all(field in entry for field in FIELDS):
        return False
    job_id = entry["job_id"]
    if not isinstance(job_id, int) or isinstance(job_id, bool) or not -(1 << 63) <= job_id < 1 << 63:
        return False
    return all(isinstance(entry[field], str) for field in FIELDS[1:])


class History:
    def __init__(self, folder: str) -> None:
        self.folder = str(folder)
        self.path = os.path.join(self.folder, FILE_NAME)
        self._entries: list[dict] | None = None  # read once: a wait may ask for tags on every poll

    @contextmanager
    def _locked(self, wait: float) -> Iterator[None]:
        """An exclusive lock on a file of its own, so that trimming (a rename) never loses a line.

        Waited for at most `wait` seconds: a process that holds it (stopped, or hung) must not
        keep a command past its deadline. flock cannot wait with a timeout, so it is tried again.
        """
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        lock = os.open(os.path.join(self.folder, "jobs.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            give_up = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        raise OSError(f"another process has held its lock for {wait:g} s") from None
                    time.sleep(LOCK_POLL)
            yield
        finally:
            os.close(lock)  # closing releases the lock

    def add(self, job_id: int, job_tag: str, endpoint: str, cluster: str, *, payload_sha256: str | None = None,
            wait: float = LOCK_WAIT) -> None:
        """Append one job; raises OSError when the state folder cannot be written or stays locked."""
        entry = {"job_id": job_id, "job_tag": job_tag, "endpoint": endpoint, "cluster": cluster,
                 "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if payload_sha256:
            entry["payload_sha256"] = payload_sha256
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        self._entries = None
        with self._locked(min(wait, LOCK_WAIT)):
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
            lines = _tail(handle).splitlines(keepends=True)[-MAX_ENTRIES:]
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
        """The record's lines; of a file grown past anything kjob writes, only its newest MAX_READ bytes."""
        try:
            with open(self.path, "rb") as handle:
                raw = _tail(handle).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BadInput(f"cannot read kjob's job record {self.path}: {exc.strerror or exc}") from None
        found = []
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # not JSON, or an integer of thousands of digits
                continue
            if _well_formed(entry):
                found.append(entry)
        return found

    def last(self) -> dict:
        entries = self.entries()
        if not entries:
            raise BadInput(f"@last names the newest job kjob submitted, but its record is empty ({self.path})")
        return entries[-1]

    def payload_of(self, job_tag: str, endpoint: str) -> str | None:
        """The digest of the payload kjob gave the job of `endpoint` under `job_tag`, if it submitted
        that job and recorded one (the server never says what a job was given)."""
        for entry in reversed(self.entries()):
            if entry["job_tag"] == job_tag and entry["endpoint"] == endpoint:
                digest = entry.get("payload_sha256")
                return digest if isinstance(digest, str) else None
        return None

    def tag_of(self, job_id: int, cluster: str) -> str | None:
        """The tag of the job `cluster` numbered `job_id`, if kjob submitted it."""
        for entry in reversed(self.entries()):
            if entry["job_id"] == job_id and entry["cluster"] == cluster:
                return entry["job_tag"]
        return None
