"""Jobs as kjob reasons about them: how a user names one, what a look at one says, what it means.

No I/O here: the CLI parses references with it, the client fills JobState records, the
renderer shows them and exit_code_for decides what the process returns.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from kjob.errors import BadInput, JobCancelled, JobFailed, KjobError, NotFinished

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
LONG_MAX = (1 << 63) - 1

# The exit code of each way a job can stand, and which wins when several jobs differ:
# the first in this list that occurs decides (most severe first).
SEVERITY = (130, 7, 6, 8, 5, 1, 3, 4, 0)
EXIT_OF_STATUS = {"DONE": 0, "RUNNING": 0, "ERROR": JobFailed.exit_code, "CANCELLED": JobCancelled.exit_code}
TERMINAL = frozenset({"DONE", "ERROR", "CANCELLED"})


class JobRef(NamedTuple):
    """A job named by id, by tag, or (once learned) both; `origin` is the cluster the id belongs to."""

    job_id: int | None = None
    tag: str | None = None
    origin: str | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or (self.tag if self.tag else str(self.job_id))

    def with_tag(self, tag: str | None) -> JobRef:
        return self if not tag or tag == self.tag else self._replace(tag=tag)


def check_tag(tag: str, what: str = "tag") -> str:
    """A tag as Kinetica accepts it, or BadInput (exit 2)."""
    if not TAG_PATTERN.match(tag):
        raise BadInput(f"{what} {tag!r} may hold only letters, digits, '_' and '-'")
    return tag


def parse_ref(text: str) -> JobRef:
    """REF: all digits is a job id; `tag:NAME` or anything else is a job tag."""
    raw = text.strip()
    if raw.startswith("tag:"):
        return JobRef(tag=check_tag(raw[4:], "job tag"), text=raw)
    if raw.isdigit():
        job_id = int(raw)
        if job_id > LONG_MAX:
            raise BadInput(f"job id {raw} is too big for a job id (at most {LONG_MAX})")
        return JobRef(job_id=job_id, text=raw)
    if not raw:
        raise BadInput("an empty job reference: give a job id or a job tag")
    return JobRef(tag=check_tag(raw, "job tag"), text=raw)


class JobState(NamedTuple):
    """One look at a job: the /get/job answer plus who answered and how the job was named."""

    ref: JobRef
    cluster: str
    endpoint: str
    job_status: str
    running: bool
    progress: int
    successful: bool
    response_encoding: str
    status_map: dict[str, str]
    info: dict[str, str]
    job_id: int | None = None
    job_response: bytes = b""
    job_response_str: str = ""

    @property
    def tag(self) -> str | None:
        return self.info.get("job_tag") or self.ref.tag

    @property
    def finished(self) -> bool:
        return self.job_status in TERMINAL

    @property
    def error_message(self) -> str:
        return self.status_map.get("error_message", "")

    def as_json(self) -> dict[str, Any]:
        """The stable --json shape: /get/job's fields under their protocol names, never the response."""
        return {
            "job_id": self.job_id,
            "job_tag": self.tag,
            "endpoint": self.endpoint,
            "job_status": self.job_status,
            "running": self.running,
            "progress": self.progress,
            "successful": self.successful,
            "response_encoding": self.response_encoding,
            "status_map": self.status_map,
            "info": self.info,
            "cluster": self.cluster,
        }


def exit_code_of(state: JobState) -> int:
    return EXIT_OF_STATUS.get(state.job_status, NotFinished.exit_code)


def worst(codes: list[int]) -> int:
    """The most severe of several exit codes, by SEVERITY."""
    present = set(codes)
    return next((code for code in SEVERITY if code in present), max(present, default=0))


def error_for(state: JobState) -> KjobError | None:
    """The error a job that ended badly stands for (None when it is DONE or still running)."""
    if state.job_status == "ERROR":
        return JobFailed(f"job {state.ref} ended in ERROR: {state.error_message or '(no message)'}")
    if state.job_status == "CANCELLED":
        return JobCancelled(f"job {state.ref} was cancelled")
    return None


def new_tag() -> str:
    """A fresh tag, fixed before the first try so that a retried submit never starts two jobs."""
    import secrets
    import time

    return f"kjob-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(6)}"


def tag_from_payload(endpoint: str, payload: Any, key: str = "") -> str:
    """The same tag for the same endpoint, payload and key: a cron job that runs twice submits once."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(endpoint.encode("utf-8") + b"\0" + key.encode("utf-8") + b"\0")
    if isinstance(payload, (bytes, bytearray)):
        digest.update(payload)
    else:
        digest.update(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"kjob-{digest.hexdigest()[:32]}"
