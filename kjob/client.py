"""The HTTP client: calls endpoints on the ring's clusters, fails over and retries. Never prints.

It reports through return values, kjob errors and callbacks (`on_failover`, `on_retry`,
`trace`). A call goes to the current cluster; on a failover condition (PROTOCOL.md: no
connection, a timeout, HTTP 404/500/502/503/504, an unreadable answer, an ERROR saying the
cluster is going away) it moves to the next one, and after a full round of failures it waits
(backoff with jitter) and goes round again, up to `settings.retries` rounds. HTTP 401 and
ordinary ERROR answers are final.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import requests
import urllib3

from kjob.config import Settings
from kjob.errors import (
    CredentialsRefused,
    JobNotFound,
    NoClusterReachable,
    ProtocolError,
    ServerRefused,
    SubmitUncertain,
)
from kjob.jobs import JobRef, JobState, other_job, status_word
from kjob.protocol import avro, codec, schemas
from kjob.transport import (
    READ_CHUNK,
    FileData,
    StreamedBody,
    Watch,
    WatchedAdapter,
    deadline,
    describe_failure,
    redact_header,
    user_agent,
)

FAILOVER_ERROR_MESSAGES = (
    "Kinetica is exiting",
    "Kinetica is offline",
    "system-limited-fatal",
    "Connection refused",
    "Connection reset",
    "Query planner is not running",
    "Unexpected end of file from server",
)
FAILOVER_400_MESSAGES = ("System shutting down", "Unavailable: Draining HA queue")
FAILOVER_HTTP_STATUSES = {404, 500, 502, 503, 504}
UNAUTHORIZED_STATUSES = {401, 403}  # 403 as the Java client takes it
RECHECK_TIMEOUT = 2.0  # the look at the current cluster's /show/system/status before moving on
NOT_FOUND = re.compile(r"\bnot found\b", re.IGNORECASE)
DUPLICATE_TAG = re.compile(r"already exists|duplicate", re.IGNORECASE)
SMALL_ANSWER = 1 << 20  # a /get/job answer up to this size is read whole; a larger one is streamed
MAX_WHOLE_ANSWER = 1 << 28  # an answer read whole past this is no real one (but a job's, in JSON or snappy wire)
BACKOFF_BASE, BACKOFF_CAP = 0.25, 4.0
NO_ID = -1  # the job_id sent with a look-up by tag (the tag wins)

Trace = Callable[[str], None]


def _nothing_listening(reasons: dict[str, str]) -> bool:
    """Every cluster refused the connection: most likely a wrong URL or a server not started."""
    return bool(reasons) and all(reason == "connection refused" for reason in reasons.values())


class ClusterFailed(Exception):
    """One cluster could not give a usable answer; `maybe_sent` says whether it may have acted."""

    def __init__(self, reason: str, maybe_sent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_sent = maybe_sent


class SkipCluster(Exception):
    """This cluster cannot be asked this (a job id that belongs to another cluster)."""


class Created(NamedTuple):
    """A job /create/job started, or found already started under its tag."""

    job_id: int
    job_tag: str
    endpoint: str
    query_id: str
    cluster: str
    existed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_tag": self.job_tag,
            "endpoint": self.endpoint,
            "query_id": self.query_id,
            "cluster": self.cluster,
            "existed": self.existed,
        }


class SinkFailed(Exception):
    """The sink of a job's response could not take it (a full disk, a closed stdout): a local
    failure, re-raised as its own OSError outside the handling of the cluster's failures."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _GuardedSink:
    """A sink whose OSErrors are the sink's, never mistaken for a broken connection (and retried)."""

    def __init__(self, sink) -> None:
        self.sink = sink

    def begin(self, size: int) -> None:
        try:
            self.sink.begin(size)
        except OSError as exc:
            raise SinkFailed(exc) from exc

    def write(self, chunk: bytes) -> None:
        try:
            self.sink.write(chunk)
        except OSError as exc:
            raise SinkFailed(exc) from exc


def _content_length(response: requests.Response) -> int | None:
    try:
        length = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


class Discard:
    """A sink for a job's response that nobody needs (status, wait): it is read and dropped."""

    def begin(self, size: int) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        pass


class Client:
    """Calls Kinetica endpoints across the ring, over one keep-alive session."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_failover: Callable[[str, str], None] | None = None,
        on_retry: Callable[[float, dict[str, str]], None] | None = None,
        trace: Trace | None = None,
        tag_of: Callable[[int, str], str | None] | None = None,
        max_connections: int = 10,
    ) -> None:
        self.settings = settings
        self.clusters = list(settings.urls)
        self.current = 0
        self.on_failover = on_failover
        self.on_retry = on_retry
        self.trace = trace
        self.tag_of = tag_of
        self.max_connections = max_connections
        self._session: requests.Session | None = None
        self._proxies: dict[str, dict[str, str]] = {}
        self._discovered = not settings.discover
        self._discovery = threading.Lock()

    # --- the session -------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            adapter = WatchedAdapter(
                pool_connections=max(1, len(self.clusters)), pool_maxsize=self.max_connections, max_retries=0
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # The environment is read once here, not on every request (trust_env costs two
            # walks of os.environ and a .netrc look-up per call): proxies per cluster, and
            # certificates from --ca-bundle (which also reads REQUESTS_CA_BUNDLE).
            session.trust_env = False
            if self.settings.insecure:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                session.verify = False
            elif self.settings.ca_bundle:
                session.verify = self.settings.ca_bundle
            self._session = session
        return self._session

    def _proxies_for(self, cluster: str) -> dict[str, str] | None:
        """The proxies the environment names for a cluster, looked up once per cluster."""
        if cluster not in self._proxies:
            self._proxies[cluster] = requests.utils.get_environ_proxies(cluster)
        return self._proxies[cluster] or None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def headers(self, encoding: str) -> dict[str, str]:
        content_type = codec.CONTENT_TYPES[encoding]
        # identity: a compressed answer could inflate a thousandfold in memory. gpudb 7.2 (through
        # requests) asks for gzip and follows redirects; kjob does neither (see _send).
        headers = {"Content-Type": content_type, "Accept": content_type, "Accept-Encoding": "identity", "User-Agent": user_agent()}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        elif self.settings.user:
            pair = f"{self.settings.user}:{self.settings.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    # --- one exchange with one cluster --------------------------------------------------

    def post(self, cluster: str, endpoint: str, record: dict, timeout: float | None = None) -> dict:
        """Send one request to one cluster and return the endpoint's response record."""
        body = codec.encode_request(endpoint, record, self.settings.wire)
        return self.exchange(cluster, endpoint, body, timeout)

    def _send(self, cluster: str, endpoint: str, body: bytes | StreamedBody, watch: Watch) -> requests.Response:
        """POST a body (inside `watch`'s deadline); the answer's head has arrived, its body is still to be read.

        A redirect is the cluster's failure: kjob talks to the cluster it was given, and a
        POST cannot be replayed elsewhere as it was. An answer compressed unasked is refused
        before a byte of it is inflated.
        """
        encoding = self.settings.wire
        headers = self.headers(encoding)
        timeout = watch.seconds
        if isinstance(body, StreamedBody):
            body.rewind()
        if self.trace:  # one call, so that polls on several threads do not interleave their lines
            self.trace("\n".join([f"> POST {cluster}{endpoint} ({encoding}, {len(body)} bytes)",
                                  *(f">   {name}: {redact_header(name, value)}" for name, value in headers.items())]))
        try:
            session = self.session
            response = session.post(
                cluster + endpoint, data=body, headers=headers, timeout=(min(10.0, timeout), timeout), stream=True,
                proxies=self._proxies_for(cluster), allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._failed(cluster, exc, watch) from None
        self._in_time(cluster, watch, response)
        if self.trace:
            self.trace(f"< HTTP {response.status_code} {response.headers.get('Content-Type') or '(no content type)'}")
        if response.is_redirect or 300 <= response.status_code < 400:
            from kjob.config import redact_url

            response.close()
            location = response.headers.get("Location")
            where = f" to {redact_url(location)}" if location else ""
            raise ClusterFailed(f"HTTP {response.status_code}, a redirect{where}: kjob follows none (is the URL the cluster's?)")
        coding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if coding not in ("", "identity"):
            response.close()
            raise ClusterFailed(f"an answer in Content-Encoding {coding}, which kjob did not ask for")
        return response

    def call_timeout(self) -> float:
        """--http-timeout, but never past the command's deadline (--timeout)."""
        if self.settings.deadline is None:
            return self.settings.http_timeout
        return max(0.1, min(self.settings.http_timeout, self.settings.deadline - time.monotonic()))

    def _in_time(self, cluster: str, watch: Watch, response: requests.Response) -> None:
        """Raise the timeout when the watch cut the connection: what was read until then may look
        whole (headers cut short read as complete, a body as empty), but it is not the answer."""
        if watch.fired:
            response.close()
            raise self._failed(cluster, TimeoutError(), watch)

    def _failed(self, cluster: str, exc: Exception, watch: Watch) -> ClusterFailed:
        if watch.fired:  # the exchange's deadline cut the connection, whatever the read then said
            reason, maybe_sent = f"no complete answer within {watch.seconds:g} s", True
        else:
            reason, maybe_sent = describe_failure(exc, watch.seconds)
        if self.trace:
            self.trace(f"< {cluster}: {reason}")
        return ClusterFailed(reason, maybe_sent)

    def exchange(self, cluster: str, endpoint: str, body: bytes | StreamedBody, timeout: float | None = None) -> dict:
        """POST an encoded body and decode the answer; failover conditions raise ClusterFailed."""
        started = time.monotonic()
        limit = self.call_timeout() if timeout is None else min(timeout, self.call_timeout())
        with deadline(limit) as watch:
            response = self._send(cluster, endpoint, body, watch)
            limit = avro.machine_memory() if endpoint == "/get/job" else MAX_WHOLE_ANSWER
            try:
                content = self._read_all(response, limit)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._failed(cluster, exc, watch) from None
            finally:
                response.close()
            self._in_time(cluster, watch, response)
        if self.trace:
            self.trace(f"< {len(content)} bytes in {(time.monotonic() - started) * 1000:.0f} ms")
        content_type = response.headers.get("Content-Type", "")
        return self._interpret(cluster, endpoint, response.status_code, content_type, content)

    def _read_all(self, response: requests.Response, limit: int = MAX_WHOLE_ANSWER) -> bytes:
        """The whole body, up to `limit` bytes (the exchange's Watch bounds it in time)."""
        too_big = f"an answer of over {limit} bytes, more than this call can have"
        length = _content_length(response)
        if length is not None and length > limit:
            raise ClusterFailed(too_big)
        chunks, size = [], 0
        for chunk in response.iter_content(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ClusterFailed(too_big)
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_head(self, cluster: str, endpoint: str, status: int, content_type: str) -> None:
        """What the status line and Content-Type alone say: 401/403, a failover status, not Kinetica.

        A text answer fails over only with 500/502/503/504 (as the Java client has it, and
        those fail over above); any other text answer is no Kinetica answer at all, and final.
        The answer to a snappy request is Avro binary, typed application/octet-stream or x-snappy."""
        if status in UNAUTHORIZED_STATUSES:
            raise CredentialsRefused(
                f"credentials refused by {cluster} (HTTP {status}): check KJOB_USER and KJOB_PASSWORD, or KJOB_TOKEN"
            )
        if status in FAILOVER_HTTP_STATUSES:
            what = f"no {endpoint} there (HTTP 404; is the URL's path right?)" if status == 404 else f"HTTP {status}"
            raise ClusterFailed(what)
        expected = codec.CONTENT_TYPES[codec.response_encoding(self.settings.wire)]
        accepted = {expected, codec.CONTENT_TYPES["snappy"]} if self.settings.wire == "snappy" else {expected}
        media_type = content_type.split(";")[0].strip().lower()
        if media_type.startswith("text/"):
            shown = "an HTML page (a proxy?)" if media_type == "text/html" else f"{media_type} text"
            raise ProtocolError(f"{cluster} answered {endpoint} with HTTP {status} and {shown}, not a Kinetica answer")
        if media_type in codec.CONTENT_TYPES.values() and media_type not in accepted:
            raise ClusterFailed(f"answered {media_type}, expected {expected}")

    def _check_wrapper(self, cluster: str, endpoint: str, status: int, wrapped: dict) -> None:
        """An ERROR answer: a failover condition, or the server's refusal."""
        if wrapped["status"] == "OK":
            return
        message = wrapped["message"]
        if any(marker in message for marker in FAILOVER_ERROR_MESSAGES) or status in (500, 504):
            raise ClusterFailed(f"ERROR: {message}")
        if status == 400 and any(marker in message for marker in FAILOVER_400_MESSAGES):
            raise ClusterFailed(f"ERROR: {message}")
        raise ServerRefused(message, endpoint=endpoint, cluster=cluster)

    def _interpret(self, cluster: str, endpoint: str, status: int, content_type: str, content: bytes) -> dict:
        self._check_head(cluster, endpoint, status, content_type)
        if not content:
            raise ClusterFailed(f"HTTP {status} with an empty body")
        try:
            wrapped = codec.decode_wrapper(content, self.settings.wire)
        except ProtocolError as exc:
            raise ClusterFailed(f"unreadable answer: {exc.message}") from None
        self._check_wrapper(cluster, endpoint, status, wrapped)
        try:
            return codec.unwrap(endpoint, wrapped)
        except ProtocolError as exc:
            raise ClusterFailed(f"unreadable answer: {exc.message}") from None

    def _get_job_streamed(self, cluster: str, body: bytes, sink) -> dict:
        """/get/job in binary, read from the socket: `job_response` goes to `sink` in chunks,
        so that a response of any size is never held whole (status and wait discard it)."""
        started = time.monotonic()
        with deadline(self.call_timeout()) as watch:
            response = self._send(cluster, "/get/job", body, watch)
            try:
                self._check_head(cluster, "/get/job", response.status_code, response.headers.get("Content-Type", ""))
                try:
                    length = _content_length(response)
                    if length is not None and length <= SMALL_ANSWER:  # the usual look: read it whole, parse it in memory
                        source = avro.Source(self._read_all(response, SMALL_ANSWER))
                    else:  # lengths inside are checked against the Content-Length, if any
                        source = avro.StreamSource(response.raw, length)
                    wrapped, answer = codec.read_get_job_stream(source, _GuardedSink(sink), deadline=started + watch.seconds)
                    if source.remaining():
                        raise ProtocolError(f"{source.remaining()} unexpected bytes after the gpudb_response")
                except SinkFailed as failed:
                    raise failed.error from None  # the sink's own failure (a full disk): never the cluster's
                except ProtocolError as exc:
                    if watch.fired:
                        raise self._failed(cluster, exc, watch) from None
                    raise ClusterFailed(f"unreadable answer: {exc.message}") from None
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    raise self._failed(cluster, exc, watch) from None
            finally:
                response.close()
            self._in_time(cluster, watch, response)
        if self.trace:
            self.trace(f"< {source.pos} bytes in {(time.monotonic() - started) * 1000:.0f} ms")
        self._check_wrapper(cluster, "/get/job", response.status_code, wrapped)
        return answer

    # --- the ring ------------------------------------------------------------------------

    def across_ring(self, endpoint: str, attempt: Callable[[str], Any], rounds: int | None = None) -> tuple[Any, str]:
        """Run `attempt(cluster)` on the current cluster, failing over and retrying as needed."""
        with self._discovery:  # once, whichever poll thread comes first
            if not self._discovered:
                self._discovered = True
                self.discover_ring()
        rounds = max(1, rounds or self.settings.retries)
        reasons: dict[str, str] = {}
        failed_clusters: dict[str, str] = {}  # those that failed, not those skipped
        for round_number in range(rounds):
            start = self.current
            for offset in range(len(self.clusters)):
                if reasons and self.settings.deadline is not None and time.monotonic() >= self.settings.deadline:
                    break  # the command's time is up: no new try, whatever clusters are left
                index = (start + offset) % len(self.clusters)
                cluster = self.clusters[index]
                try:
                    try:
                        result = attempt(cluster)
                    except ClusterFailed as failed:
                        if offset != 0 or len(self.clusters) == 1 or not self.still_usable(cluster):
                            raise
                        reasons[cluster] = failed.reason  # running and not draining: one more try there
                        result = attempt(cluster)
                except SkipCluster as skip:
                    reasons[cluster] = str(skip)
                    continue
                except JobNotFound as missing:
                    if not failed_clusters:
                        raise
                    # Not here, and a cluster that may know it failed: how the job stands is unknown.
                    tried = "; ".join(f"{failed} unreachable ({why})" for failed, why in failed_clusters.items())
                    raise NoClusterReachable(f"{tried}, and {missing.message} (not there, or not yet: a tag reaches a backup"
                                             " after a delay)") from None
                except ClusterFailed as failed:
                    reasons[cluster] = failed_clusters[cluster] = failed.reason
                    continue
                if index != self.current:
                    previous = self.clusters[self.current]
                    self.current = index
                    if self.on_failover:
                        self.on_failover(cluster, reasons.get(previous, "unavailable"))
                return result, cluster
            if round_number + 1 < rounds:
                pause = min(BACKOFF_CAP, BACKOFF_BASE * 2**round_number) * random.uniform(0.5, 1.5)
                deadline = self.settings.deadline
                if deadline is not None and time.monotonic() + pause > deadline:
                    break
                if self.on_retry and not _nothing_listening(reasons):  # that case ends in one line with a hint
                    self.on_retry(pause, dict(reasons))
                time.sleep(pause)
        if _nothing_listening(reasons):
            raise NoClusterReachable(
                f"no cluster answered {endpoint}: nothing is listening at {', '.join(reasons)} (connection refused)",
                hint="give your cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator",
            )
        tried = "; ".join(f"{cluster}: {reason}" for cluster, reason in reasons.items())
        raise NoClusterReachable(f"no cluster answered {endpoint} (tried {tried})")

    def still_usable(self, cluster: str) -> bool:
        """Whether a cluster that just failed a call says it is running and not draining
        (/show/system/status, as the official client asks before it moves on)."""
        try:
            status_map = self.post(cluster, "/show/system/status", {"options": {}}, timeout=RECHECK_TIMEOUT)["status_map"]
            system = codec.parse_json(status_map.get("system", "{}"), "status_map.system")
            ha_status = codec.parse_json(status_map.get("ha_status") or "{}", "status_map.ha_status")
        except (ClusterFailed, ServerRefused, CredentialsRefused, ProtocolError):
            return False
        running = isinstance(system, dict) and system.get("status") == "running"
        draining = isinstance(ha_status, dict) and ha_status.get("drained") == "draining"
        if self.trace:
            self.trace(f"{cluster}: {'running' if running else 'not running'}{', draining' if draining else ''}")
        return running and not draining

    def discover_ring(self) -> list[str]:
        """Add the ring's other clusters (conf.ha_ring_head_nodes_full) after the explicit ones.

        Asks the first cluster that answers; a ring that cannot be discovered is no error.
        """
        for cluster in list(self.clusters):
            try:
                properties = self.post(cluster, "/show/system/properties", {"options": {}})["property_map"]
            except (ClusterFailed, ServerRefused):
                continue
            if properties.get("conf.enable_ha", "").lower() != "true":
                return []
            added = []
            for members in properties.get("conf.ha_ring_head_nodes_full", "").split(";"):
                head = members.split(",")[0].strip().rstrip("/")
                if head.startswith(("http://", "https://")) and head not in self.clusters:
                    self.clusters.append(head)
                    added.append(head)
            if added and self.trace:
                self.trace(f"discovered ring members: {', '.join(added)}")
            return added
        return []

    def call(self, endpoint: str, record: dict) -> tuple[dict, str]:
        """Call an idempotent endpoint with the same record on whichever cluster answers."""
        return self.across_ring(endpoint, lambda cluster: self.post(cluster, endpoint, record))

    # --- jobs ----------------------------------------------------------------------------

    def origin_of(self, ref: JobRef) -> str:
        """The cluster a job id belongs to: where it was given, or the first cluster."""
        return ref.origin or self.clusters[0]

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
            if self.settings.wire == "binary":
                body = codec.encode_request("/get/job", record, "binary")
                answer = self._get_job_streamed(cluster, body, sink or Discard())
            else:
                answer = self.post(cluster, "/get/job", record)
                if sink is not None and answer["job_response"]:
                    sink.begin(len(answer["job_response"]))
                    sink.write(answer["job_response"])
                    answer["job_response"] = b""
        except ServerRefused as exc:
            if NOT_FOUND.search(exc.server_message):
                how = "by id" if record["job_id"] != NO_ID else f"by tag {record['options']['job_tag']}"  # what was asked
                raise JobNotFound(f"job {ref} not found on {cluster} (looked up {how}): {exc.server_message}") from None
            raise
        state = self._state(ref, cluster, answer, record)
        mismatch = other_job(ref, record, state)
        if mismatch is not None:
            raise mismatch
        return state

    def get_job(self, ref: JobRef, sink=None) -> JobState:
        """One look at a job, failing over (by tag) when its cluster is gone."""
        state, _ = self.across_ring("/get/job", lambda cluster: self.look_up(ref, cluster, sink))
        return state

    def cancel_job(self, ref: JobRef) -> tuple[str, str]:
        """Cancel a job through /admin/alter/jobs; (the server's status for it, the cluster)."""

        def attempt(cluster: str) -> str:
            lookup = self._get_job_record(ref, cluster)
            ids = [] if lookup["job_id"] == NO_ID else [lookup["job_id"]]
            record = {"job_ids": ids, "action": "cancel", "options": lookup["options"]}
            answer = self.post(cluster, "/admin/alter/jobs", record)
            return answer["status"][0] if answer["status"] else ""

        return self.across_ring("/admin/alter/jobs", attempt)

    def list_jobs(self, include_finished: bool) -> tuple[dict, str]:
        """/admin/show/jobs on the current cluster: (its column-oriented answer, the cluster)."""
        return self.call("/admin/show/jobs", {"options": {"show_async_jobs": "true" if include_finished else "false"}})

    @staticmethod
    def _state(ref: JobRef, cluster: str, answer: dict, record: dict) -> JobState:
        if record["job_id"] != NO_ID:
            job_id: int | None = record["job_id"]
        else:
            job_id = int(answer["info"]["job_id"]) if answer["info"].get("job_id", "").isascii() and answer["info"]["job_id"].isdigit() else None
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

    def create_job(
        self, endpoint: str, request_encoding: str, data: bytes | FileData, data_str: str, tag: str, *, reuse: bool = False
    ) -> Created:
        """Start a job under `tag`, never twice.

        The tag is fixed before the first try. When a try may have reached a cluster (the
        connection broke after sending), the next try first looks the tag up; a refusal
        for a duplicate tag after such a try means our own job, not someone else's.
        """
        record = {"endpoint": endpoint, "request_encoding": request_encoding, "data": data, "data_str": data_str, "options": {"job_tag": tag}}
        body = self._create_job_body(record)
        maybe_sent = False

        def existing(cluster: str, ours: bool) -> Created | None:
            """The job under our tag on `cluster`: ours (an earlier try arrived) or somebody's.

            After a try that may have arrived, an answer that says neither found nor not
            found leaves the outcome unknown: never a second job, never a claimed success."""
            try:
                state = self.look_up(JobRef(tag=tag), cluster)
            except JobNotFound:
                return None
            except ServerRefused as refused:
                if not ours:
                    raise
                raise SubmitUncertain(
                    f"job {endpoint} may have been started under tag {tag} (an earlier try may have reached "
                    f"{cluster}), but looking the tag up there answered {refused.server_message!r}, which kjob cannot "
                    f"read as found or not found; it did not submit again (check with: kjob status {tag})"
                ) from None
            # A job of another endpoint under our tag is never ours, whatever an earlier try did.
            return Created(state.job_id or NO_ID, tag, state.endpoint, "", cluster,
                           existed=not ours or state.endpoint != endpoint)

        def attempt(cluster: str) -> Created:
            nonlocal maybe_sent
            if maybe_sent and (found := existing(cluster, ours=True)):
                return found
            try:
                answer = self.exchange(cluster, "/create/job", body)
            except ClusterFailed as failed:
                maybe_sent = maybe_sent or failed.maybe_sent
                raise
            except ServerRefused as refused:
                if DUPLICATE_TAG.search(refused.server_message) and (maybe_sent or reuse):
                    found = existing(cluster, ours=maybe_sent)
                    if found is not None:
                        return found
                if DUPLICATE_TAG.search(refused.server_message):
                    raise ServerRefused(
                        f"{refused.server_message} (tag {tag!r} already names a job; --if-exists reuse reports that job instead)",
                        endpoint="/create/job",
                        cluster=cluster,
                    ) from None
                raise
            info = answer["info"]
            return Created(answer["job_id"], info.get("job_tag", tag), endpoint, info.get("query_id", ""), cluster)

        try:
            created, _ = self.across_ring("/create/job", attempt)
        except NoClusterReachable as unreachable:
            if not maybe_sent:
                raise
            raise NoClusterReachable(f"{unreachable.message}; a try may have started the job under tag {tag} "
                                     f"(check with: kjob status {tag})") from None
        return created


    def _create_job_body(self, record: dict) -> bytes | StreamedBody:
        """In binary, the payload streams between the record's other fields (from its file, or
        from memory without a joined copy); JSON and snappy bodies must be built whole."""
        data = record["data"]
        if self.settings.wire == "binary":
            size = data.size if isinstance(data, FileData) else len(data)
            prefix, suffix = schemas.endpoint("/create/job").request.frame(record, "data", size)
            return StreamedBody([prefix, data, suffix])
        if isinstance(data, FileData):
            with open(data.path, "rb") as handle:
                record = {**record, "data": handle.read()}
        return codec.encode_request("/create/job", record, self.settings.wire)
