"""One exchange with one cluster: send a request, read its answer within the deadline, check
the head, decode. A failover condition (PROTOCOL.md: no connection, a timeout, HTTP
404/500/502/503/504, an unreadable answer, an ERROR saying the cluster is going away) raises
ClusterFailed, for the ring to move on; HTTP 401/403 and ordinary ERROR answers raise kjob errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
import urllib3

from kjob.config import Settings, redact_url, seconds
from kjob.errors import CredentialsRefused, ProtocolError, ServerRefused
from kjob.http.session import READ_CHUNK, Session, StreamedBody, Watch, deadline, describe_failure, redact_header
from kjob.protocol import avro, codec, encodings

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
KINETICA_TYPES = {encoding.content_type for encoding in encodings.ENCODINGS.values()}
SMALL_ANSWER = 1 << 20  # a /get/job answer up to this size is read whole; a larger one is streamed
MAX_WHOLE_ANSWER = 1 << 28  # an answer read whole past this is no real one (but a job's, in JSON or snappy wire)

Trace = Callable[[str], None]


@dataclass
class Reports:
    """Where the client reports what the user may want to see (it never prints)."""

    on_failover: Callable[[str, str], None] | None = None
    on_retry: Callable[[float, dict[str, str]], None] | None = None
    trace: Trace | None = None


class ClusterFailed(Exception):
    """One cluster could not give a usable answer; `maybe_sent` says whether it may have acted."""

    def __init__(self, reason: str, maybe_sent: bool = True, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_sent = maybe_sent
        self.timed_out = timed_out  # no answer in time (not a refusal, not a bad answer)


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


class Discard:
    """A sink for a job's response that nobody needs (status, wait): it is read and dropped."""

    def begin(self, size: int) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        pass


def _content_length(response: requests.Response) -> int | None:
    try:
        length = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def read_all(response: requests.Response, limit: int = MAX_WHOLE_ANSWER) -> bytes:
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


def check_wrapper(cluster: str, endpoint: str, status: int, wrapped: dict) -> None:
    """An ERROR answer: a failover condition, or the server's refusal."""
    if wrapped["status"] == "OK":
        return
    message = wrapped["message"]
    if any(marker in message for marker in FAILOVER_ERROR_MESSAGES) or status in (500, 504):
        raise ClusterFailed(f"ERROR: {message}")
    if status == 400 and any(marker in message for marker in FAILOVER_400_MESSAGES):
        raise ClusterFailed(f"ERROR: {message}")
    raise ServerRefused(message, endpoint=endpoint, cluster=cluster)


class Exchange:
    """Requests to one cluster at a time, in the settings' wire encoding, over the session."""

    def __init__(self, settings: Settings, session: Session, reports: Reports) -> None:
        self.settings = settings
        self.wire = encodings.named(settings.wire)
        self.session = session
        self.reports = reports

    def _trace(self, line: str) -> None:
        if self.reports.trace:
            self.reports.trace(line)

    def post(self, cluster: str, endpoint: str, record: dict, timeout: float | None = None) -> dict:
        """Send one request to one cluster and return the endpoint's response record."""
        body = codec.encode_request(endpoint, record, self.wire.name)
        return self.post_body(cluster, endpoint, body, timeout)

    def call_timeout(self) -> float:
        """--http-timeout, but never past the command's deadline (--timeout)."""
        if self.settings.deadline is None:
            return self.settings.http_timeout
        return max(0.1, min(self.settings.http_timeout, self.settings.deadline - time.monotonic()))

    def send(self, cluster: str, endpoint: str, body: bytes | StreamedBody, watch: Watch) -> requests.Response:
        """POST a body (inside `watch`'s deadline); the answer's head has arrived, its body is still to be read.

        A redirect is the cluster's failure: kjob talks to the cluster it was given, and a
        POST cannot be replayed elsewhere as it was. An answer compressed unasked is refused
        before a byte of it is inflated.
        """
        headers = self.session.headers(self.wire.name)
        timeout = watch.seconds
        if self.reports.trace:  # one call, so that polls on several threads do not interleave their lines
            self.reports.trace("\n".join([f"> POST {cluster}{endpoint} ({self.wire}, {len(body)} bytes)",
                                          *(f">   {name}: {redact_header(name, value)}" for name, value in headers.items())]))
        try:
            response = self.session.requests_session.post(
                cluster + endpoint, data=body, headers=headers, timeout=(min(10.0, timeout), timeout), stream=True,
                proxies=self.session.proxies_for(cluster), allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._failed(cluster, exc, watch) from None
        self._in_time(cluster, watch, response)
        self._trace(f"< HTTP {response.status_code} {response.headers.get('Content-Type') or '(no content type)'}")
        if response.is_redirect or 300 <= response.status_code < 400:
            response.close()
            location = response.headers.get("Location")
            where = f" to {redact_url(location)}" if location else ""
            raise ClusterFailed(f"HTTP {response.status_code}, a redirect{where}: kjob follows none (is the URL the cluster's?)")
        coding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if coding not in ("", "identity"):
            response.close()
            raise ClusterFailed(f"an answer in Content-Encoding {coding}, which kjob did not ask for")
        return response

    def _in_time(self, cluster: str, watch: Watch, response: requests.Response) -> None:
        """Raise the timeout when the watch cut the connection: what was read until then may look
        whole (headers cut short read as complete, a body as empty), but it is not the answer."""
        if watch.fired:
            response.close()
            raise self._failed(cluster, TimeoutError(), watch)

    def _failed(self, cluster: str, exc: Exception, watch: Watch) -> ClusterFailed:
        timed_out = watch.fired or isinstance(exc, (TimeoutError, requests.Timeout, urllib3.exceptions.TimeoutError))
        if watch.fired:  # the exchange's deadline cut the connection, whatever the read then said
            reason, maybe_sent = f"no complete answer within {seconds(watch.seconds)} s", True
        else:
            reason, maybe_sent = describe_failure(exc, watch.seconds)
        self._trace(f"< {cluster}: {reason}")
        return ClusterFailed(reason, maybe_sent, timed_out=timed_out)

    @contextmanager
    def _answer(self, cluster: str, endpoint: str, body: bytes | StreamedBody, seconds: float) -> Iterator[tuple[requests.Response, Watch]]:
        """POST within `seconds` and read the answer in the block: a transport failure while
        reading is the cluster's, the answer is closed however the block ends, and a read that
        the deadline cut is a timeout however whole it looked."""
        with deadline(seconds) as watch:
            response = self.send(cluster, endpoint, body, watch)
            try:
                yield response, watch
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._failed(cluster, exc, watch) from None
            finally:
                response.close()
            self._in_time(cluster, watch, response)

    def post_body(self, cluster: str, endpoint: str, body: bytes | StreamedBody, timeout: float | None = None) -> dict:
        """POST an encoded body and decode the answer; failover conditions raise ClusterFailed."""
        started = time.monotonic()
        limit = self.call_timeout() if timeout is None else min(timeout, self.call_timeout())
        with self._answer(cluster, endpoint, body, limit) as (response, _):
            content = read_all(response, avro.machine_memory() if endpoint == "/get/job" else MAX_WHOLE_ANSWER)
        self._trace(f"< {len(content)} bytes in {(time.monotonic() - started) * 1000:.0f} ms")
        self.check_head(cluster, endpoint, response.status_code, response.headers.get("Content-Type", ""))
        if not content:
            raise ClusterFailed(f"HTTP {response.status_code} with an empty body")
        try:
            wrapped = codec.decode_wrapper(content, self.wire.name)
        except ProtocolError as exc:
            raise ClusterFailed(f"unreadable answer: {exc.message}") from None
        check_wrapper(cluster, endpoint, response.status_code, wrapped)
        try:
            return codec.unwrap(endpoint, wrapped)
        except ProtocolError as exc:
            raise ClusterFailed(f"unreadable answer: {exc.message}") from None

    def check_head(self, cluster: str, endpoint: str, status: int, content_type: str) -> None:
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
        media_type = content_type.split(";")[0].strip().lower()
        if media_type.startswith("text/"):
            shown = "an HTML page (a proxy?)" if media_type == "text/html" else f"{media_type} text"
            raise ProtocolError(f"{cluster} answered {endpoint} with HTTP {status} and {shown}, not a Kinetica answer")
        if media_type in KINETICA_TYPES and media_type not in self.wire.answer_types:
            raise ClusterFailed(f"answered {media_type}, expected {self.wire.answers.content_type}")

    def get_job_streamed(self, cluster: str, body: bytes, sink) -> dict:
        """/get/job in binary, read from the socket: `job_response` goes to `sink` in chunks,
        so that a response of any size is never held whole (status and wait discard it)."""
        started = time.monotonic()
        seconds = self.call_timeout()
        try:
            with self._answer(cluster, "/get/job", body, seconds) as (response, watch):
                self.check_head(cluster, "/get/job", response.status_code, response.headers.get("Content-Type", ""))
                length = _content_length(response)
                if length is not None and length <= SMALL_ANSWER:  # the usual look: read it whole, parse it in memory
                    source = avro.Source(read_all(response, SMALL_ANSWER))
                else:  # lengths inside are checked against the Content-Length, if any
                    source = avro.StreamSource(response.raw, length)
                try:
                    wrapped, answer = codec.read_get_job_stream(source, _GuardedSink(sink), deadline=started + seconds)
                    if source.remaining():
                        raise ProtocolError(f"{source.remaining()} unexpected bytes after the gpudb_response")
                except ProtocolError as exc:
                    if watch.fired:
                        raise TimeoutError from None  # the deadline cut the answer short: a timeout, not a broken answer
                    raise ClusterFailed(f"unreadable answer: {exc.message}") from None
        except SinkFailed as failed:
            raise failed.error from None  # the sink's own failure (a full disk): never the cluster's
        self._trace(f"< {source.pos} bytes in {(time.monotonic() - started) * 1000:.0f} ms")
        check_wrapper(cluster, "/get/job", response.status_code, wrapped)
        return answer
