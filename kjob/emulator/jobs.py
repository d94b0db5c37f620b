"""The emulator's jobs, shared by every cluster of a ring, each cluster with its own job ids.

A job's state follows the clock: it is RUNNING from its creation for its duration, with
`progress` rising, and then ends as its payload asked (DONE by default). Nothing runs in a
thread per job, so hundreds of jobs cost nothing while they wait.

Payload options (in the request's own `options` map) that shape a job:
  emulator_duration       seconds the job runs (default: the emulator's --job-duration)
  emulator_outcome        done | error | cancelled
  emulator_error_message  the message of a job that ends in ERROR
  emulator_response_bytes pad the response to about this many bytes
  emulator_rows           rows of an /execute/sql result set
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kjob.emulator import work
from kjob.emulator.large import STREAM_PADDING, Digested, Spliced, spliced_response
from kjob.protocol import codec, payload, schemas

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
OUTCOMES = {"done": "DONE", "error": "ERROR", "cancelled": "CANCELLED"}
FAILING_CEILING = 60  # the progress at which a job that ends in ERROR or CANCELLED stops
ID_SPACING = 1_000_000  # cluster k numbers its jobs from k * ID_SPACING + 1


class Refused(Exception):
    """A request the emulated server answers with an ERROR wrapper."""


@dataclass
class Job:
    tag: str
    endpoint: str
    request_encoding: str
    request: Any
    created: float
    duration: float
    outcome: str
    error_message: str
    query_id: str
    received_ms: int
    padding: int = 0
    auth_id: str = ""
    digested: Digested | None = None  # a large payload, read but not kept
    cancelled_at: float | None = None
    cancelled_progress: int = 0
    response: tuple[bytes, str] | None = None

    def state(self, now: float) -> tuple[str, int]:
        """(job_status, progress) at monotonic time `now`."""
        if self.cancelled_at is not None:
            return "CANCELLED", self.cancelled_progress
        # A job that will fail gets only part of the way, as a real one would.
        ceiling = 100 if self.outcome == "DONE" else FAILING_CEILING
        elapsed = now - self.created
        if elapsed < self.duration:
            return "RUNNING", min(ceiling - 1, int(ceiling * elapsed / self.duration))
        return self.outcome, ceiling


@dataclass
class Cluster:
    """One cluster's view of the ring: its own job ids, and when each tag became visible."""

    index: int
    url: str = ""
    next_id: int = 0
    ids: dict[int, str] = field(default_factory=dict)
    id_of_tag: dict[str, int] = field(default_factory=dict)
    visible_from: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.next_id = self.index * ID_SPACING + 1


class Ring:
    """Jobs by tag, and every cluster's id for each."""

    def __init__(self, clusters: int = 1, job_duration: float = 1.0, replication_delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.clusters = [Cluster(i) for i in range(clusters)]
        self.job_duration = job_duration
        self.replication_delay = replication_delay

    def urls(self) -> list[str]:
        return [cluster.url for cluster in self.clusters if cluster.url]

    def create(self, cluster_index: int, request: dict, auth_id: str = "") -> dict:
        """Run /create/job on one cluster; the job appears on every other one under the same tag."""
        options = request["options"]
        tag = options.get("job_tag") or f"job-{uuid.uuid4().hex}"
        if not TAG_PATTERN.match(tag):
            raise Refused(f"Invalid job_tag '{tag}': a tag may hold only letters, digits, '_' and '-'")
        endpoint = request["endpoint"]
        encoding = request["request_encoding"]
        if encoding not in codec.ENCODINGS:
            raise Refused(f"Invalid request_encoding '{encoding}' (expected binary, json or snappy)")
        found = schemas.find_endpoint(endpoint)
        if found is None:
            raise Refused(f"Unsupported endpoint for a job: {endpoint}")
        digested = next((request[key] for key in ("data", "data_str") if isinstance(request[key], Digested)), None)
        job_request = None if digested else self._decode_payload(found, request, encoding)
        knobs = job_request.get("options", {}) if job_request else {}
        if not all(isinstance(value, str) for value in knobs.values()):
            knobs = {}  # a few endpoints' options are not a map of strings: no emulator knobs there
        try:
            duration = float(knobs.get("emulator_duration", self.job_duration))
            padding = int(knobs.get("emulator_response_bytes", 0))
        except ValueError as exc:
            raise Refused(f"Invalid emulator option: {exc}") from None
        outcome = OUTCOMES.get(knobs.get("emulator_outcome", "done").lower())
        if outcome is None:
            raise Refused(f"Invalid emulator_outcome '{knobs['emulator_outcome']}' (expected done, error or cancelled)")
        now = time.monotonic()
        job = Job(
            tag=tag,
            endpoint=endpoint,
            request_encoding=encoding,
            request=job_request,
            created=now,
            duration=max(0.0, duration),
            outcome=outcome,
            error_message=knobs.get("emulator_error_message", f"Emulated failure of {endpoint}"),
            query_id=str(uuid.uuid4()),
            received_ms=int(time.time() * 1000),
            padding=padding,
            auth_id=auth_id,
            digested=digested,
        )
        with self.lock:
            if tag in self.jobs:
                raise Refused(f"Job tag '{tag}' already exists")
            self.jobs[tag] = job
            for cluster in self.clusters:
                job_id = cluster.next_id
                cluster.next_id += 1
                cluster.ids[job_id] = tag
                cluster.id_of_tag[tag] = job_id
                delay = 0.0 if cluster.index == cluster_index else self.replication_delay
                cluster.visible_from[tag] = now + delay
            own_id = self.clusters[cluster_index].id_of_tag[tag]
        return {"job_id": own_id, "info": {"job_tag": tag, "query_id": job.query_id}}

    @staticmethod
    def _decode_payload(found: schemas.Endpoint, request: dict, encoding: str) -> dict:
        try:
            job_request = payload.decode_payload(payload.request_schema(found.path), request["data"], request["data_str"], encoding)
            return found.request.from_json_value(payload.to_json_value(job_request))
        except Exception as exc:  # the codec's ProtocolError, or a JSON payload of the wrong shape
            raise Refused(f"Unable to parse the {found.path} payload: {exc}") from None

    def find(self, cluster_index: int, job_id: int, tag: str) -> tuple[int, Job]:
        """The job a /get/job names on this cluster (the tag wins over the id)."""
        cluster = self.clusters[cluster_index]
        now = time.monotonic()
        with self.lock:
            if tag:
                if tag in cluster.id_of_tag and cluster.visible_from[tag] <= now:
                    return cluster.id_of_tag[tag], self.jobs[tag]
                raise Refused(f"Job with tag '{tag}' not found")
            found = cluster.ids.get(job_id)
            if found is None or cluster.visible_from[found] > now:
                raise Refused(f"Job {job_id} not found")
            return job_id, self.jobs[found]

    def get(self, cluster_index: int, request: dict) -> dict:
        """Run /get/job on one cluster."""
        job_id, job = self.find(cluster_index, request["job_id"], request["options"].get("job_tag", ""))
        status, progress = job.state(time.monotonic())
        binary = job.request_encoding != "json"
        job_response, job_response_str = b"", ""
        if status == "DONE":
            job_response, job_response_str = self.response_of(job)
        return {
            "endpoint": job.endpoint,
            "job_status": status,
            "running": status == "RUNNING",
            "progress": progress,
            "successful": status == "DONE",
            "response_encoding": "binary" if binary else "json",
            "job_response": job_response,
            "job_response_str": job_response_str,
            "status_map": {"error_message": job.error_message} if status == "ERROR" else {},
            "info": {"job_tag": job.tag, "job_id": str(job_id)},
        }

    def response_of(self, job: Job) -> tuple[bytes | Spliced, str]:
        """The finished job's response, encoded once as the job was submitted, then kept."""
        if job.response is None:
            schema = schemas.endpoint(job.endpoint).response
            if job.request_encoding != "json" and job.padding > STREAM_PADDING:
                record = work.run(job.endpoint, job.request, self.urls())
                job.response = (spliced_response(schema, record, job.padding), "")
                return job.response
            record = work.run(job.endpoint, job.request, self.urls(), job.padding)
            if job.request_encoding == "json":
                job.response = (b"", codec.json_bytes(schema.to_json_value(record), ascii_only=True).decode("ascii"))
            else:
                job.response = (schema.encode(record), "")
        return job.response

    def cancel(self, cluster_index: int, request: dict) -> dict:
        """Run /admin/alter/jobs (action cancel) on one cluster."""
        if request["action"] != "cancel":
            raise Refused(f"Unsupported action '{request['action']}' (expected cancel)")
        tag = request["options"].get("job_tag", "")
        targets = [(0, tag)] if tag else [(job_id, "") for job_id in request["job_ids"]]
        job_ids, statuses = [], []
        now = time.monotonic()
        for job_id, by_tag in targets:
            try:
                own_id, job = self.find(cluster_index, job_id, by_tag)
            except Refused:
                job_ids.append(job_id)
                statuses.append("NOT_FOUND")
                continue
            with self.lock:
                status, progress = job.state(now)
                if status == "RUNNING":
                    job.cancelled_at = now
                    job.cancelled_progress = progress
                    status = "CANCELLED"
            job_ids.append(own_id)
            statuses.append(status)
        return {"job_ids": job_ids, "action": "cancel", "status": statuses, "info": {}}

    def show(self, cluster_index: int, request: dict) -> dict:
        """Run /admin/show/jobs on one cluster; finished jobs only with show_async_jobs=true."""
        include_done = request["options"].get("show_async_jobs", "false").lower() == "true"
        cluster = self.clusters[cluster_index]
        now = time.monotonic()
        rows = []
        with self.lock:
            for job_id, tag in sorted(cluster.ids.items()):
                if cluster.visible_from[tag] > now:
                    continue
                job = self.jobs[tag]
                status, _ = job.state(now)
                if status == "RUNNING" or include_done:
                    rows.append((job_id, status, job))
        return {
            "job_id": [job_id for job_id, _, _ in rows],
            "status": [status for _, status, _ in rows],
            "endpoint_name": [job.endpoint for _, _, job in rows],
            "time_received": [job.received_ms for _, _, job in rows],
            "auth_id": [job.auth_id for _, _, job in rows],
            "source_ip": ["127.0.0.1" for _ in rows],
            "query_text": ["" for _ in rows],
            "user_data": ["" for _ in rows],
            "flags": ["async" for _ in rows],
            "info": {"job_tag": ",".join(job.tag for _, _, job in rows)},
        }

    def count(self) -> int:
        with self.lock:
            return len(self.jobs)
