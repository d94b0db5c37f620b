"""The emulator's jobs, shared by every cluster of a ring, each cluster with its own job ids.

As in Kinetica (docs/PROTOCOL-NOTES.md), a cluster numbers every request it serves, jobs and
ordinary requests alike, from one counter of its own: ids on two clusters of a ring overlap,
and a job's id on one cluster may name another job on the other.

A job's state follows the clock: it is RUNNING from its creation for its duration, its
`progress` moving by its shape (linear, jump or stall), and then ends as its payload asked
(DONE by default); /execute/sql runs its statement on the ring's database when the job is
created and ends in ERROR with the engine's message when the statement fails. A cancel lands
at the job's next checkpoint (a job that ends first is not cancelled) and never on jobs that
write (insert, update, delete). A job is forgotten `retention` seconds after it ends. Nothing
runs in a thread per job, so hundreds of jobs cost nothing while they wait.

Payload options (in the request's own `options` map) that shape a job:
  emulator_duration       seconds the job runs (default: the emulator's --job-duration)
  emulator_outcome        done | error | cancelled
  emulator_error_message  the message of a job that ends in ERROR
  emulator_response_bytes pad the response to about this many bytes
  emulator_rows           rows of a result set of a dynamic-schema endpoint other than SQL (/aggregate/groupby...)
  emulator_progress       linear | jump (sits at 0%, then jumps) | stall (climbs, then stalls)
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from kjob.emulator import sql, work
from kjob.emulator.large import STREAM_PADDING, Digested, Spliced, spliced_response
from kjob.protocol import encodings, payload, schemas

TAG_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
OUTCOMES = {"done": "DONE", "error": "ERROR", "cancelled": "CANCELLED"}
FAILING_CEILING = 60  # the progress at which a job that ends in ERROR or CANCELLED stops
PROGRESS_SHAPES = ("linear", "jump", "stall")
JUMP_AT, STALL_AT = 0.6, 0.4  # jump: 0% until 60% of the run; stall: stuck at 40% of the way from a fifth of the run
# /admin/show/jobs words: `dispatched` for a running job is Kinetica's; the words for ended jobs are not public.
SHOW_STATUS = {"RUNNING": "dispatched", "DONE": "done", "ERROR": "error", "CANCELLED": "cancelled"}
SHOW_JOBS_TAGS = ("json", "comma", "none")  # how /admin/show/jobs puts each job's tag in its info map
WRITING_ENDPOINTS = ("/insert/records", "/update/records", "/delete/records")
WRITING_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "UPSERT", "MERGE")


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
    source_ip: str = ""
    progress_shape: str = "linear"
    digested: Digested | None = None  # a large payload, read but not kept
    result: dict | None = None  # a response computed when the job was created (SQL)
    cancel_at: float | None = None  # when a requested cancel lands (the next checkpoint)
    response: tuple[bytes, str] | None = None

    def cancellable(self) -> bool:
        """Jobs that write cannot be cancelled; the others stop at a checkpoint."""
        if self.endpoint.startswith(WRITING_ENDPOINTS):
            return False
        if self.endpoint == "/execute/sql" and self.request:
            verb = self.request["statement"].strip().split(None, 1)[:1]
            return not (verb and verb[0].upper() in WRITING_STATEMENTS)
        return True

    def state(self, now: float) -> tuple[str, int]:
        """(job_status, progress) at monotonic time `now`."""
        ends = self.created + self.duration
        # A job that will fail gets only part of the way, as a real one would.
        ceiling = 100 if self.outcome == "DONE" else FAILING_CEILING
        if self.cancel_at is not None and self.cancel_at < ends and now >= self.cancel_at:
            return "CANCELLED", self._progress(self.cancel_at, ceiling)  # where it was: progress never goes back
        if now < ends:
            return "RUNNING", self._progress(now, ceiling)
        return self.outcome, ceiling

    def ended_at(self) -> float:
        ends = self.created + self.duration
        return self.cancel_at if self.cancel_at is not None and self.cancel_at < ends else ends

    def _progress(self, now: float, ceiling: int) -> int:
        done = (now - self.created) / self.duration if self.duration else 1.0
        if self.progress_shape == "jump":
            done = 0.0 if done < JUMP_AT else 0.9
        elif self.progress_shape == "stall":
            done = min(done * 2, STALL_AT)
        return min(ceiling - 1, int(ceiling * done))


@dataclass
class Cluster:
    """One cluster's view of the ring: its own job ids, and when each tag became visible."""

    index: int
    url: str = ""
    next_id: int = 1
    ids: dict[int, str] = field(default_factory=dict)
    id_of_tag: dict[str, int] = field(default_factory=dict)
    visible_from: dict[str, float] = field(default_factory=dict)
    requests: dict[int, tuple[str, int, str, str]] = field(default_factory=dict)  # ordinary requests being served

    def take_id(self) -> int:
        """The next id of this cluster's one counter (the ring's lock held)."""
        job_id = self.next_id
        self.next_id += 1
        return job_id


class Ring:
    """Jobs by tag, every cluster's id for each, and the ring's database."""

    def __init__(self, clusters: int = 1, job_duration: float = 1.0, replication_delay: float = 0.0, *,
                 database: sql.Database | None = None, retention: float | None = 3600.0,
                 progress_shape: str = "linear", cancel_checkpoint: float = 0.2, show_jobs_tags: str = "json") -> None:
        if progress_shape not in PROGRESS_SHAPES:
            raise ValueError(f"progress shape {progress_shape!r}: expected one of {', '.join(PROGRESS_SHAPES)}")
        if show_jobs_tags not in SHOW_JOBS_TAGS:
            raise ValueError(f"show-jobs tags {show_jobs_tags!r}: expected one of {', '.join(SHOW_JOBS_TAGS)}")
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.clusters = [Cluster(i) for i in range(clusters)]
        self.job_duration = job_duration
        self.replication_delay = replication_delay
        self.database = database if database is not None else sql.Database()
        self.retention = retention
        self.progress_shape = progress_shape
        self.cancel_checkpoint = cancel_checkpoint
        self.show_jobs_tags = show_jobs_tags

    def begin_request(self, cluster_index: int, endpoint: str, auth_id: str, source_ip: str) -> int:
        """An ordinary request takes the cluster's next id and shows in /admin/show/jobs while served."""
        cluster = self.clusters[cluster_index]
        with self.lock:
            request_id = cluster.take_id()
            cluster.requests[request_id] = (endpoint, int(time.time() * 1000), auth_id, source_ip)
        return request_id

    def end_request(self, cluster_index: int, request_id: int) -> None:
        with self.lock:
            self.clusters[cluster_index].requests.pop(request_id, None)

    def _forget_expired(self, now: float) -> None:
        """Drop the jobs that ended more than `retention` seconds ago (the lock held)."""
        if self.retention is None:
            return
        for tag in [tag for tag, job in self.jobs.items() if job.ended_at() + self.retention <= now]:
            del self.jobs[tag]
            for cluster in self.clusters:
                job_id = cluster.id_of_tag.pop(tag, None)
                cluster.ids.pop(job_id, None)
                cluster.visible_from.pop(tag, None)

    def urls(self) -> list[str]:
        return [cluster.url for cluster in self.clusters if cluster.url]

    def create(self, cluster_index: int, request: dict, auth_id: str = "", source_ip: str = "") -> dict:
        """Run /create/job on one cluster; the job appears on every other one under the same tag."""
        options = request["options"]
        tag = options.get("job_tag") or f"job-{uuid.uuid4().hex}"
        if not TAG_PATTERN.match(tag):
            raise Refused(f"Invalid job_tag '{tag}': a tag may hold only letters, digits, '_' and '-'")
        endpoint = request["endpoint"]
        encoding = request["request_encoding"]
        if encoding not in encodings.ENCODINGS:
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
        shape = knobs.get("emulator_progress", self.progress_shape)
        if shape not in PROGRESS_SHAPES:
            raise Refused(f"Invalid emulator_progress '{shape}' (expected {', '.join(PROGRESS_SHAPES)})")
        error_message = knobs.get("emulator_error_message", f"Emulated failure of {endpoint}")
        result = None
        if endpoint in work.DATABASE_ENDPOINTS and job_request is not None:
            try:  # the statement runs now; the job tells its outcome when it ends
                result = work.run(endpoint, job_request, self.urls(), database=self.database)
            except sql.SqlError as exc:
                outcome, error_message = "ERROR", str(exc)
        now = time.monotonic()
        job = Job(
            tag=tag,
            endpoint=endpoint,
            request_encoding=encoding,
            request=job_request,
            created=now,
            duration=max(0.0, duration),
            outcome=outcome,
            error_message=error_message,
            query_id=str(uuid.uuid4()),
            received_ms=int(time.time() * 1000),
            padding=padding,
            auth_id=auth_id,
            source_ip=source_ip,
            progress_shape=shape,
            digested=digested,
            result=result,
        )
        with self.lock:
            self._forget_expired(now)
            if tag in self.jobs:
                raise Refused(f"Job tag '{tag}' already exists")
            self.jobs[tag] = job
            for cluster in self.clusters:
                job_id = cluster.take_id()
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
            self._forget_expired(now)
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
        job_response, job_response_str = b"", ""
        if status == "DONE":
            job_response, job_response_str = self.response_of(job)
        return {
            "endpoint": job.endpoint,
            "job_status": status,
            "running": status == "RUNNING",
            "progress": progress,
            "successful": status == "DONE",
            "response_encoding": encodings.named(job.request_encoding).answers.name,
            "job_response": job_response,
            "job_response_str": job_response_str,
            "status_map": {"error_message": job.error_message} if status == "ERROR" else {},
            "info": {"job_tag": job.tag, "job_id": str(job_id)},
        }

    def response_of(self, job: Job) -> tuple[bytes | Spliced, str]:
        """The finished job's response, encoded once as the job was submitted, then kept."""
        if job.response is None:
            schema = schemas.endpoint(job.endpoint).response
            if job.result is not None:
                record = dict(job.result)
                if job.padding:
                    record["info"] = {**record["info"], "emulator_padding": "x" * job.padding}
            elif encodings.named(job.request_encoding).avro and job.padding > STREAM_PADDING:
                record = work.run(job.endpoint, job.request, self.urls(), database=self.database)
                job.response = (spliced_response(schema, record, job.padding), "")
                return job.response
            else:
                record = work.run(job.endpoint, job.request, self.urls(), job.padding, database=self.database)
            job.response = encodings.named(job.request_encoding).answers.answer_data(schema, record)
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
                status, _ = job.state(now)
                if status == "RUNNING" and job.cancellable() and job.cancel_at is None:
                    job.cancel_at = self._next_checkpoint(job, now)
                    status, _ = job.state(now)
            job_ids.append(own_id)
            statuses.append(status)
        return {"job_ids": job_ids, "action": "cancel", "status": statuses, "info": {}}

    def _next_checkpoint(self, job: Job, now: float) -> float:
        """When a cancel asked for at `now` lands: the job's next checkpoint."""
        if self.cancel_checkpoint <= 0:
            return now
        run = now - job.created
        return job.created + (int(run / self.cancel_checkpoint) + 1) * self.cancel_checkpoint

    def show(self, cluster_index: int, request: dict) -> dict:
        """Run /admin/show/jobs on one cluster: the requests being served and the async jobs
        (those that ended only with show_async_jobs=true), in Kinetica's words."""
        include_done = request["options"].get("show_async_jobs", "false").lower() == "true"
        cluster = self.clusters[cluster_index]
        now = time.monotonic()
        rows = []  # (id, status, endpoint, received ms, auth id, source, query text, tag)
        with self.lock:
            self._forget_expired(now)
            for job_id, (endpoint, received, auth_id, source_ip) in cluster.requests.items():
                rows.append((job_id, SHOW_STATUS["RUNNING"], endpoint, received, auth_id, source_ip, "", ""))
            for job_id, tag in cluster.ids.items():
                if cluster.visible_from[tag] > now:
                    continue
                job = self.jobs[tag]
                status, _ = job.state(now)
                if status == "RUNNING" or include_done:
                    statement = job.request.get("statement", "") if job.endpoint == "/execute/sql" and job.request else ""
                    rows.append((job_id, SHOW_STATUS[status], job.endpoint, job.received_ms, job.auth_id, job.source_ip,
                                 statement, job.tag))
        rows.sort()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        tags = list(columns[7])
        info = {"job_tag": json.dumps(tags) if self.show_jobs_tags == "json" else ",".join(tags)}
        return {
            "job_id": list(columns[0]),
            "status": list(columns[1]),
            "endpoint_name": list(columns[2]),
            "time_received": list(columns[3]),
            "auth_id": list(columns[4]),
            "source_ip": list(columns[5]),
            "query_text": list(columns[6]),
            "user_data": ["" for _ in rows],
            "flags": ["" for _ in rows],
            "info": {} if self.show_jobs_tags == "none" else info,
        }

    def count(self) -> int:
        with self.lock:
            return len(self.jobs)
