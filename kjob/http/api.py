"""The job API the commands use: create a job (never twice), look at one, list, cancel, call.

`Client` is the one object the rest of kjob holds: it puts the session, the exchange with one
cluster and the ring together, and reports through return values, kjob errors and the
callbacks `on_failover`, `on_retry` and `trace` (set at construction or later). Never prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kjob.config import Settings
from kjob.errors import JobNotFound, NoClusterReachable, ServerRefused, SubmitUncertain
from kjob.http.exchange import ClusterFailed, Discard, Exchange, Reports
from kjob.http.ring import Ring, SkipCluster
from kjob.http.session import FileData, Session, StreamedBody
from kjob.model import Created, JobRef, JobState, other_job, status_word
from kjob.protocol import codec, schemas

NOT_FOUND = re.compile(r"\bnot found\b", re.IGNORECASE)
DUPLICATE_TAG = re.compile(r"already exists|duplicate", re.IGNORECASE)
NO_ID = -1  # the job_id sent with a look-up by tag (the tag wins)


def _report(name: str) -> property:
    """A callback of the client's Reports, settable on the client (a display takes them over)."""
    return property(lambda client: getattr(client.reports, name), lambda client, value: setattr(client.reports, name, value))


class Client:
    """Calls Kinetica endpoints across the ring, over one keep-alive session."""

    on_failover = _report("on_failover")
    on_retry = _report("on_retry")
    trace = _report("trace")

    def __init__(
        self,
        settings: Settings,
        *,
        on_failover: Callable[[str, str], None] | None = None,
        on_retry: Callable[[float, dict[str, str]], None] | None = None,
        trace: Callable[[str], None] | None = None,
        tag_of: Callable[[int, str], str | None] | None = None,
        max_connections: int = 10,
    ) -> None:
        self.settings = settings
        self.tag_of = tag_of
        self.reports = Reports(on_failover, on_retry, trace)
        self.session = Session(settings, len(settings.urls), max_connections)
        self.exchange = Exchange(settings, self.session, self.reports)
        self.ring = Ring(self.exchange, self.reports)

    def post(self, cluster: str, endpoint: str, record: dict) -> dict:
        """Send one request to one cluster and return the endpoint's response record."""
        return self.exchange.post(cluster, endpoint, record)

    def call(self, endpoint: str, record: dict) -> tuple[dict, str]:
        """Call an idempotent endpoint with the same record on whichever cluster answers."""
        return self.ring.across(endpoint, lambda cluster: self.post(cluster, endpoint, record))

    # --- looking at a job --------------------------------------------------------------

    def origin_of(self, ref: JobRef) -> str:
        """The cluster a job id belongs to: where it was given, or the first cluster."""
        return ref.origin or self.ring.clusters[0]

    def _get_job_record(self, ref: JobRef, cluster: str) -> dict:
        """By id on the cluster the id belongs to; by tag anywhere else (from kjob's record if need be)."""
        origin = self.origin_of(ref)
        tag = ref.tag
        if not tag and cluster != origin and self.tag_of is not None:
            tag = self.tag_of(ref.job_id, origin)
        if tag:
            return {"job_id": ref.job_id if ref.job_id is not None and cluster == origin else NO_ID, "options": {"job_tag": tag}}
        if cluster != origin:
            raise SkipCluster(f"job id {ref.job_id} belongs to {origin} and its tag is not known (name the job by tag)")
        return {"job_id": ref.job_id, "options": {}}

    def look_up(self, ref: JobRef, cluster: str, sink=None) -> JobState:
        """One /get/job on one cluster (a not-found answer raises JobNotFound).

        A DONE job's response goes to `sink` (begin(size), then write(chunk)...), or nowhere:
        the returned state then carries it only in JSON wire mode, where it comes whole."""
        record = self._get_job_record(ref, cluster)
        try:
            answer = self._get_job(cluster, record, sink)
        except ServerRefused as exc:
            if NOT_FOUND.search(exc.server_message):
                how = "by id" if record["job_id"] != NO_ID else f"by tag {record['options']['job_tag']}"  # what was asked
                raise JobNotFound(f"job {ref} not found on {cluster} (looked up {how}): {exc.server_message}") from None
            raise
        state = _state(ref, cluster, answer, record)
        mismatch = other_job(ref, record, state)
        if mismatch is not None:
            raise mismatch
        return state

    def _get_job(self, cluster: str, record: dict, sink) -> dict:
        """/get/job's answer; in a wire that streams, the job's response goes to the sink from the socket."""
        wire = self.exchange.wire
        if wire.streams:
            return self.exchange.get_job_streamed(cluster, codec.encode_request("/get/job", record, wire.name), sink or Discard())
        answer = self.post(cluster, "/get/job", record)
        if sink is not None and answer["job_response"]:
            sink.begin(len(answer["job_response"]))
            sink.write(answer["job_response"])
            answer["job_response"] = b""
        return answer

    def get_job(self, ref: JobRef, sink=None) -> JobState:
        """One look at a job, failing over (by tag) when its cluster is gone."""
        state, _ = self.ring.across("/get/job", lambda cluster: self.look_up(ref, cluster, sink))
        return state

    def cancel_job(self, ref: JobRef) -> tuple[str, str]:
        """Cancel a job through /admin/alter/jobs; (the server's status for it, the cluster)."""

        def attempt(cluster: str) -> str:
            lookup = self._get_job_record(ref, cluster)
            ids = [] if lookup["job_id"] == NO_ID else [lookup["job_id"]]
            record = {"job_ids": ids, "action": "cancel", "options": lookup["options"]}
            answer = self.post(cluster, "/admin/alter/jobs", record)
            return answer["status"][0] if answer["status"] else ""

        return self.ring.across("/admin/alter/jobs", attempt)

    def list_jobs(self, include_finished: bool) -> tuple[dict, str]:
        """/admin/show/jobs on the current cluster: (its column-oriented answer, the cluster)."""
        return self.call("/admin/show/jobs", {"options": {"show_async_jobs": "true" if include_finished else "false"}})

    # --- starting a job ----------------------------------------------------------------

    def create_job(
        self, endpoint: str, request_encoding: str, data: bytes | FileData, data_str: str, tag: str, *, reuse: bool = False
    ) -> Created:
        """Start a job under `tag`, never twice (see JobCreation)."""
        record = {"endpoint": endpoint, "request_encoding": request_encoding, "data": data, "data_str": data_str, "options": {"job_tag": tag}}
        return JobCreation(self, record, self._create_job_body(record), reuse).run()

    def _create_job_body(self, record: dict) -> bytes | StreamedBody:
        """In a wire that streams, the payload goes between the record's other fields (from its
        file, or from memory without a joined copy); other bodies must be built whole."""
        data = record["data"]
        wire = self.exchange.wire
        if wire.streams:
            size = data.size if isinstance(data, FileData) else len(data)
            prefix, suffix = schemas.endpoint("/create/job").request.frame(record, "data", size)
            return StreamedBody([prefix, data, suffix])
        if isinstance(data, FileData):
            with open(data.path, "rb") as handle:
                record = {**record, "data": handle.read()}
        return codec.encode_request("/create/job", record, wire.name)


def _state(ref: JobRef, cluster: str, answer: dict, record: dict) -> JobState:
    """A /get/job answer as a JobState (the job id from the answer's info when looked up by tag)."""
    if record["job_id"] != NO_ID:
        job_id: int | None = record["job_id"]
    else:
        given = answer["info"].get("job_id", "")
        job_id = int(given) if given.isascii() and given.isdigit() else None
    return JobState(
        ref=ref,
        cluster=cluster,
        endpoint=answer["endpoint"],
        job_status=status_word(answer["job_status"]),
        running=answer["running"],
        progress=answer["progress"],
        successful=answer["successful"],
        response_encoding=answer["response_encoding"],
        status_map=answer["status_map"],
        info=answer["info"],
        job_id=job_id,
        job_response=answer["job_response"],
        job_response_str=answer["job_response_str"],
    )


class JobCreation:
    """One /create/job across the ring, never starting the job twice.

    The tag is fixed before the first try. When a try may have reached a cluster (the
    connection broke after sending), the next try first looks the tag up; a refusal for a
    duplicate tag after such a try means our own job, not someone else's.
    """

    def __init__(self, client: Client, record: dict, body: bytes | StreamedBody, reuse: bool) -> None:
        self.client = client
        self.endpoint = record["endpoint"]
        self.tag = record["options"]["job_tag"]
        self.body = body
        self.reuse = reuse
        self.maybe_sent = False

    def run(self) -> Created:
        try:
            created, _ = self.client.ring.across("/create/job", self.attempt)
        except NoClusterReachable as unreachable:
            if not self.maybe_sent:
                raise
            # The same kind of failure (unreachable, or cut by --timeout), with what kjob knows of the job.
            raise type(unreachable)(f"{unreachable.message}; a try may have started the job under tag {self.tag} "
                                    f"(check with: kjob status {self.tag})") from None
        return created

    def attempt(self, cluster: str) -> Created:
        if self.maybe_sent and (found := self.existing(cluster, ours=True)):
            return found
        try:
            answer = self.client.exchange.post_body(cluster, "/create/job", self.body)
        except ClusterFailed as failed:
            self.maybe_sent = self.maybe_sent or failed.maybe_sent
            raise
        except ServerRefused as refused:
            if not DUPLICATE_TAG.search(refused.server_message):
                raise
            if self.maybe_sent or self.reuse:
                found = self.existing(cluster, ours=self.maybe_sent)
                if found is not None:
                    return found
            raise ServerRefused(
                f"{refused.server_message} (tag {self.tag!r} already names a job; --if-exists reuse reports that job instead)",
                endpoint="/create/job",
                cluster=cluster,
            ) from None
        info = answer["info"]
        return Created(answer["job_id"], info.get("job_tag", self.tag), self.endpoint, info.get("query_id", ""), cluster)

    def existing(self, cluster: str, ours: bool) -> Created | None:
        """The job under our tag on `cluster`: ours (an earlier try arrived) or somebody's.

        After a try that may have arrived, an answer that says neither found nor not found
        leaves the outcome unknown: never a second job, never a claimed success."""
        try:
            state = self.client.look_up(JobRef(tag=self.tag), cluster)
        except JobNotFound:
            return None
        except ServerRefused as refused:
            if not ours:
                raise
            raise SubmitUncertain(
                f"job {self.endpoint} may have been started under tag {self.tag} (an earlier try may have reached "
                f"{cluster}), but looking the tag up there answered {refused.server_message!r}, which kjob cannot "
                f"read as found or not found; it did not submit again (check with: kjob status {self.tag})"
            ) from None
        # A job of another endpoint under our tag is never ours, whatever an earlier try did.
        return Created(state.job_id or NO_ID, self.tag, state.endpoint, "", cluster,
                       existed=not ours or state.endpoint != self.endpoint)
