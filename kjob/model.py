"""One definition of a job: how a user names one (JobRef), what a look at one says (JobState),
what /create/job answered (Created), and the records the commands print about jobs.

No I/O here: the CLI parses references with it, the client fills JobState records, the
renderer shows them and exit_code_of decides what the process returns.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from kjob.errors import (
    SEVERITY,
    BadInput,
    ExitStatus,
    JobCancelled,
    JobFailed,
    KjobError,
    ProtocolError,
    UnknownOutcome,
)

TAG_PATTERN = re.compile(r"[A-Za-z0-9_-]+")  # used with fullmatch: no trailing newline slips through
JOB_ID_PATTERN = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes '²' and '١٢'
LONG_MAX = (1 << 63) - 1

# The exit code of each way a job can stand (which wins when several differ: errors.SEVERITY).
EXIT_OF_STATUS = {"DONE": ExitStatus.OK, "RUNNING": ExitStatus.OK, "ERROR": JobFailed.exit_code,
                  "CANCELLED": JobCancelled.exit_code}
TERMINAL = frozenset({"DONE", "ERROR", "CANCELLED"})


def status_word(word: str) -> str:
    """A server's job_status with the words kjob knows in their canonical case (`done` is DONE);
    any other word is kept as the server wrote it, to be shown as it is."""
    upper = word.strip().upper()
    return upper if upper in EXIT_OF_STATUS else word


class JobRef(NamedTuple):
    """A job named by id, by tag, or (once learned) both; `origin` is the cluster the id belongs to."""

    job_id: int | None = None
    tag: str | None = None
    origin: str | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or (ref_text(self.tag) if self.tag else str(self.job_id))

    def with_tag(self, tag: str | None) -> JobRef:
        return self if not tag or tag == self.tag else self._replace(tag=tag)


def check_tag(tag: str, what: str = "tag") -> str:
    """A tag as Kinetica accepts it, or BadInput (exit 2)."""
    if not tag:
        raise BadInput(f"{what} is empty: give a tag (letters, digits, '_' and '-')"
                       + (", or leave --tag out for a new unique one" if what == "tag" else ""))
    if not TAG_PATTERN.fullmatch(tag):
        raise BadInput(f"{what} {tag!r} may hold only letters, digits, '_' and '-'")
    return tag


def ref_text(tag: str) -> str:
    """The REF that names the job with this tag: the tag, or `tag:NAME` for an all-digit tag
    (which as a bare REF would name the job with that id, another job)."""
    return f"tag:{tag}" if JOB_ID_PATTERN.fullmatch(tag) else tag


def tag_label(tag: str | None) -> str:
    """A tag shown beside a job id: `tag nightly`, or the REF `tag:3` for an all-digit tag (so
    that what a user copies names this job, not job 3)."""
    if not tag:
        return "tag -"
    return ref_text(tag) if JOB_ID_PATTERN.fullmatch(tag) else f"tag {tag}"


def parse_ref(text: str) -> JobRef:
    """REF: all (ASCII) digits is a job id; `tag:NAME` or anything else is a job tag.

    Spaces and newlines around a REF are dropped (a REF read from a file or a pipe)."""
    raw = text.strip()
    if raw.startswith("tag:"):
        return JobRef(tag=check_tag(raw[4:], "job tag"), text=raw)
    if raw.isdigit() and not JOB_ID_PATTERN.fullmatch(raw):
        raise BadInput(f"job reference {raw!r} has digits other than 0-9: a job id is written in 0-9")
    if JOB_ID_PATTERN.fullmatch(raw):
        job_id = int(raw)
        if job_id > LONG_MAX:
            raise BadInput(f"job id {raw} is too big for a job id (at most {LONG_MAX})")
        return JobRef(job_id=job_id, text=raw)
    if not raw:
        raise BadInput("an empty job reference: give a job id or a job tag")
    return JobRef(tag=check_tag(raw, "job tag"), text=raw)


class Created(NamedTuple):
    """A job /create/job started, or found already started under its tag."""

    job_id: int
    job_tag: str
    endpoint: str
    query_id: str
    cluster: str
    existed: bool = False

    @property
    def ref(self) -> JobRef:
        """The job as `wait` follows it: by id on the cluster that started it, and by tag."""
        return JobRef(job_id=self.job_id, tag=self.job_tag, origin=self.cluster)

    def as_json(self) -> dict[str, Any]:
        """The stable --json shape of `submit`."""
        return self._asdict()


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
    def known_status(self) -> bool:
        return self.job_status in EXIT_OF_STATUS

    @property
    def finished(self) -> bool:
        """Ended: DONE, ERROR or CANCELLED, or a word kjob does not know on a job not running."""
        return self.job_status in TERMINAL or (not self.known_status and not self.running)

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
    if state.job_status in EXIT_OF_STATUS:
        return EXIT_OF_STATUS[state.job_status]
    return UnknownOutcome.exit_code if state.finished else EXIT_OF_STATUS["RUNNING"]  # a word of a running job


def worst(codes: list[int]) -> int:
    """The most severe of several exit codes, by errors.SEVERITY."""
    present = set(codes)
    return next((code for code in SEVERITY if code in present), max(present, default=ExitStatus.OK))


def error_for(state: JobState) -> KjobError | None:
    """The error a job that ended badly stands for (None when it is DONE or still running)."""
    if state.job_status == "ERROR":
        return JobFailed(f"job {state.ref} ended in ERROR: {state.error_message or '(no message)'}")
    if state.job_status == "CANCELLED":
        return JobCancelled(f"job {state.ref} was cancelled")
    if state.finished and not state.known_status:
        return UnknownOutcome(f"job {state.ref} is no longer running, with a status kjob does not know: "
                              f"{state.job_status!r} (not DONE, ERROR or CANCELLED)")
    return None


def other_job(ref: JobRef, sent: dict, state: JobState) -> ProtocolError | None:
    """A /get/job answer about another job than the one asked for (`sent`: the request record).

    Such an answer is never the job's outcome: following it would report another job's end."""
    info = state.info
    answered_tag, answered_id = info.get("job_tag", ""), info.get("job_id", "")
    asked_tag = sent["options"].get("job_tag")
    if asked_tag and answered_tag and answered_tag != asked_tag:
        found = tag_label(answered_tag)
    elif sent["job_id"] >= 0 and answered_id.isdigit() and int(answered_id) != sent["job_id"]:
        found = f"job id {answered_id}"
    else:
        return None
    return ProtocolError(f"job {ref}: {state.cluster} answered about another job ({found}); "
                         "not taken as this job's outcome")


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
    digest.update(canonical_payload(payload))
    return f"kjob-{digest.hexdigest()[:32]}"


def payload_digest(payload: Any) -> str:
    """A payload's SHA-256 (hex), as kjob's record keeps it to tell the same job from another."""
    import hashlib

    return hashlib.sha256(canonical_payload(payload)).hexdigest()


def canonical_payload(payload: Any) -> bytes:
    """A payload as bytes that do not depend on how it was written (its keys sorted); bytes as they are."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def listed_job(job_id: int, job_status: str, endpoint: str, received_ms: int, user: str, tag: str, cluster: str) -> dict[str, Any]:
    """One row of `kjob list` (and its --json shape): a job as /admin/show/jobs lists it."""
    import time

    return {"job_id": job_id, "job_status": job_status, "endpoint": endpoint, "job_tag": tag or None,
            "time_received": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(received_ms / 1000)), "user": user,
            "cluster": cluster}


def cancel_record(state: JobState, *, already_ended: bool, server_status: str) -> dict[str, Any]:
    """The --json line of `kjob cancel` for one job: status's shape plus what the cancel did."""
    return {**state.as_json(), "cancelled": state.job_status == "CANCELLED" and not already_ended,
            "already_ended": already_ended, "server_status": server_status}


def wait_record(job) -> dict[str, Any]:
    """The --json line of `kjob wait` for one job (ops.wait.Followed): status's shape (or, never
    seen, the job as named) plus ref, exit_code and elapsed."""
    record: dict[str, Any] = job.state.as_json() if job.state else {"job_id": job.ref.job_id, "job_tag": job.ref.tag}
    record = {"ref": str(job.ref), **record, "exit_code": job.exit_code, "waited_seconds": round(job.elapsed, 3),
              "reachable": job.unreachable_since is None}  # false: the status fields are the last ones seen
    if job.error is not None:
        record["error"] = job.error.message
    return record
