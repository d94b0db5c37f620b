"""The emulator's HTTP side: one listener per cluster of the ring, speaking Kinetica's wire format.

Control endpoints (not Kinetica's; for tests and users' scripts), on every cluster:
  POST /emulator/fault  body: a fault spec (see faults.py), e.g. `http-503@/get/job*2`
  POST /emulator/clear  disarm every fault of this cluster
  POST /emulator/stop   stop this cluster (its listener and open connections); the rest go on
  GET  /emulator/jobs   {"jobs": N}, the jobs the ring holds
  GET  /emulator/stats  {"connections": opened so far, "max_open": most open at once}
  POST /emulator/sink   read the body into a SHA-256 and answer {"size": N, "sha256": ...}
                        (a plain upload target, as a baseline for benchmarks)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from kjob import __version__
from kjob.emulator import large, sql, work
from kjob.emulator.faults import Faults
from kjob.emulator.jobs import Refused, Ring
from kjob.errors import ProtocolError
from kjob.protocol import avro, codec, encodings, schemas

FAILOVER_MESSAGES = {  # every ERROR answer comes with HTTP 400, as Kinetica's do
    "offline": "Kinetica is offline",
    "exiting": "Kinetica is exiting",
    "shutting-down": "System shutting down",
    "draining": "Unavailable: Draining HA queue",
    "refuse": "Emulated refusal",
}
UNAUTHORIZED_MESSAGE = "Insufficient credentials"
UNKNOWN_URI_MESSAGE = "Unknown URI"
SNAPPY_ANSWER_TYPES = ("octet-stream", "x-snappy")  # the Content-Type of an answer to a snappy request
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n"
GARBAGE = bytes(range(255, 0, -7)) * 3
TRICKLE_DELAY = 0.005


@dataclass
class Credentials:
    """Who may call: basic-auth users and bearer tokens. Empty means no authentication."""

    users: dict[str, str] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)

    def required(self) -> bool:
        return bool(self.users or self.tokens)

    def identify(self, header: str | None) -> str | None:
        """The auth id for an Authorization header, or None when it is refused."""
        if not self.required():
            return ""
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "bearer" and value in self.tokens:
            return "oauth"
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if self.users.get(user) == password and user:
                return user
        return None


class _Listener(ThreadingHTTPServer):
    """A threading HTTP server that can also cut the keep-alive connections it holds."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, cluster: ClusterServer) -> None:
        self.cluster = cluster
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.connections_opened = 0
        self.max_open = 0
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.open_connections.add(request)
            self.connections_opened += 1
            self.max_open = max(self.max_open, len(self.open_connections))
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """A client that went away, or a fault that cut the line: quiet unless --verbose."""
        if self.cluster.verbose:
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.open_connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class ClusterServer:
    """One cluster of the ring: an HTTP listener, its faults, and its index in the ring."""

    def __init__(self, ring: Ring, index: int, host: str, port: int, credentials: Credentials, verbose: bool = False,
                 tls: tuple[str, str] | None = None, snappy_answer_type: str = "octet-stream") -> None:
        self.ring = ring
        self.snappy_answer_type = snappy_answer_type
        self.index = index
        self.credentials = credentials
        self.verbose = verbose
        self.faults = Faults()
        self.recorded: list[tuple[str, dict[str, str], bytes]] | None = None  # (path, headers by lower-case name, body) when recording
        self.stopped = threading.Event()
        self.listener = _Listener((host, port), self)
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # The handshake happens in the connection's own thread, not in the accept loop.
            self.listener.socket = context.wrap_socket(self.listener.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.listener.server_address[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{shown_host}:{self.port}"
        ring.clusters[index].url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> ClusterServer:
        self._thread = threading.Thread(target=self.listener.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections: clients now see this cluster as down."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.listener.shutdown()
        self.listener.server_close()
        self.listener.cut_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes; no delayed-ACK stall between them
    server_version = f"kjob-emulator/{__version__}"
    server: _Listener

    def log_message(self, format: str, *args) -> None:
        if self.server.cluster.verbose:
            super().log_message(format, *args)

    # --- control ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/emulator/jobs":
            self._send_json(200, {"jobs": self.server.cluster.ring.count()})
        elif path == "/emulator/stats":
            listener = self.server
            self._send_json(200, {"connections": listener.connections_opened, "max_open": listener.max_open})
        elif path == "/":
            self._send(200, work.ROOT_TEXT, "text/plain")
        else:
            self._send(404, b"Not Found\n", "text/plain")

    def _control(self, path: str) -> None:
        cluster = self.server.cluster
        if path == "/emulator/sink":
            digest, size = large.digest_stream(self.rfile, int(self.headers.get("Content-Length") or 0))
            return self._send_json(200, {"size": size, "sha256": digest})
        body = self._read_body()
        if path == "/emulator/fault":
            try:
                fault = cluster.faults.add(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                return self._send_json(400, {"error": str(exc)})
            return self._send_json(200, {"armed": fault.mode, "endpoint": fault.endpoint, "count": fault.remaining})
        if path == "/emulator/clear":
            cluster.faults.clear()
            return self._send_json(200, {"cleared": True})
        if path == "/emulator/jobs":
            return self._send_json(200, {"jobs": cluster.ring.count()})
        if path == "/emulator/stop":
            self.close_connection = True
            self._send_json(200, {"stopping": cluster.url})
            threading.Thread(target=cluster.stop, daemon=True).start()
            return None
        return self._send(404, b"Not Found\n", "text/plain")

    # --- Kinetica --------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._started = time.monotonic()
        path = urlsplit(self.path).path
        if path.startswith("/emulator/"):
            return self._control(path)
        cluster = self.server.cluster
        endpoint = self._endpoint_of(path)
        mode = cluster.faults.take(endpoint or path)
        if mode == "drop":
            self.close_connection = True
            return None
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        encoding = encodings.of_content_type(content_type).name
        length = int(self.headers.get("Content-Length") or 0)
        if endpoint == "/create/job" and encodings.named(encoding).streams and length > large.LARGE_PAYLOAD and mode is None:
            return self._create_large_job(length, cluster.credentials.identify(self.headers.get("Authorization")))
        body = self._read_body()
        if cluster.recorded is not None:
            cluster.recorded.append((path, {k.lower(): v for k, v in self.headers.items()}, body))
        if mode == "stall":
            cluster.stopped.wait(600)
            self.close_connection = True
            return None
        if mode in ("http-500", "http-502", "http-503", "http-504"):
            status = int(mode[5:])
            return self._send(status, f"{status} emulated\n".encode(), "text/plain")
        if mode in ("unauthorized", "forbidden"):
            return self._send_unauthorized(encoding, 403 if mode == "forbidden" else 401)
        auth_id = cluster.credentials.identify(self.headers.get("Authorization"))
        if auth_id is None:
            return self._send_unauthorized(encoding)
        if endpoint is None:
            return self._answer(404, codec.encode_error(UNKNOWN_URI_MESSAGE, encoding), encoding, None)
        answer_encoding = encodings.JSON.name if mode == "wrong-type" else encoding
        if mode == "draining" and endpoint == "/show/system/status":
            response = codec.encode_response(endpoint, work.system_status(draining=True), answer_encoding)
            return self._answer(200, response, answer_encoding, None)
        if mode in FAILOVER_MESSAGES:
            return self._answer(400, codec.encode_error(FAILOVER_MESSAGES[mode], answer_encoding), answer_encoding, mode)
        if mode == "html":
            return self._send(200, HTML_PAGE, "text/html")
        if mode == "empty":
            return self._send(200, b"", encodings.BINARY.content_type)
        if mode == "garbage":
            return self._send(200, GARBAGE, encodings.BINARY.content_type)
        source_ip = f"{self.client_address[0]}:{self.client_address[1]}"
        request_id = None if endpoint == "/create/job" else cluster.ring.begin_request(cluster.index, endpoint, auth_id or "anonymous", source_ip)
        try:
            request = codec.decode_request(endpoint, body, encoding)
            record = self._run(endpoint, request, auth_id or "anonymous", source_ip)
            if isinstance(record.get("job_response"), large.Spliced):
                if encodings.named(answer_encoding).streams:
                    return self._send_parts(*large.spliced_get_job(record))
                record["job_response"] = b"".join(record["job_response"].chunks())
            response = codec.encode_response(endpoint, record, answer_encoding)
            status = 200
        except (Refused, ProtocolError, sql.SqlError) as exc:
            response, status = codec.encode_error(str(exc), answer_encoding), 400
        finally:
            if request_id is not None:
                cluster.ring.end_request(cluster.index, request_id)
        return self._answer(status, response, answer_encoding, mode)

    def _create_large_job(self, length: int, auth_id: str | None) -> None:
        """A /create/job whose payload is read from the socket into a digest, never held."""
        if auth_id is None:
            self.close_connection = True  # the unread body makes the connection unusable
            return self._send_unauthorized("binary")
        cluster = self.server.cluster
        if cluster.recorded is not None:
            cluster.recorded.append(("/create/job", {k.lower(): v for k, v in self.headers.items()}, b""))
        try:
            request = large.read_create_job(self.rfile, length)
            source_ip = f"{self.client_address[0]}:{self.client_address[1]}"
            created = cluster.ring.create(cluster.index, request, auth_id or "anonymous", source_ip)
            response, status = codec.encode_response("/create/job", created, "binary"), 200
        except (Refused, ProtocolError) as exc:
            response, status = codec.encode_error(str(exc), "binary"), 400
        except avro.Truncated as exc:
            response, status = codec.encode_error(f"Unable to parse the request: {exc}", "binary"), 400
        return self._answer(status, response, "binary", None)

    def _send_parts(self, parts: list, size: int) -> None:
        """An answer written piece by piece (a Spliced part in chunks)."""
        self.send_response(200)
        self.send_header("Content-Type", encodings.BINARY.content_type)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for part in parts:
            for chunk in part.chunks() if isinstance(part, large.Spliced) else (part,):
                self.wfile.write(chunk)

    def _run(self, endpoint: str, request: dict, auth_id: str, source_ip: str) -> dict:
        ring, index = self.server.cluster.ring, self.server.cluster.index
        handlers: dict[str, Callable[[], dict]] = {
            "/create/job": lambda: ring.create(index, request, auth_id, source_ip),
            "/get/job": lambda: ring.get(index, request),
            "/admin/alter/jobs": lambda: ring.cancel(index, request),
            "/admin/show/jobs": lambda: ring.show(index, request),
            "/show/system/properties": lambda: {"property_map": work.system_properties(self.server.cluster.url, ring.urls()), "info": {}},
        }
        if endpoint in handlers:
            return handlers[endpoint]()
        return work.run(endpoint, request, ring.urls(), database=ring.database)

    @staticmethod
    def _endpoint_of(path: str) -> str | None:
        """The endpoint a path names, after any prefix (`/gpudb-0/get/job` is /get/job)."""
        known = schemas.known_endpoints()
        if path in known:
            return path
        return next((endpoint for endpoint in known if path.endswith(endpoint)), None)

    # --- bytes on the wire -----------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, encoding: str, mode: str | None) -> None:
        if mode == "drop-after":
            self.close_connection = True
            return
        wire = encodings.named(encoding)
        content_type = wire.answers.content_type
        if wire is encodings.SNAPPY and self.server.cluster.snappy_answer_type == "x-snappy":
            content_type = wire.content_type  # the body is Avro binary all the same
        if mode == "truncate":
            body = body[: len(body) // 2]
        if mode == "cut":
            self.close_connection = True
            return self._send(status, body, content_type, length=len(body), cut=len(body) // 2)
        self._send(status, body, content_type, trickle=mode == "trickle")

    def _send_unauthorized(self, encoding: str, status: int = 401) -> None:
        """HTTP 401 with an ERROR wrapper, as Kinetica answers refused credentials."""
        body = codec.encode_error(UNAUTHORIZED_MESSAGE, encoding)
        self._send(status, body, encodings.named(encoding).answers.content_type,
                   extra={"WWW-Authenticate": 'Basic realm="GPUdb"'})

    def _send_json(self, status: int, value: dict) -> None:
        self._send(status, (json.dumps(value) + "\n").encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, *, trickle: bool = False, extra: dict | None = None,
              length: int | None = None, cut: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        started = getattr(self, "_started", None)
        if started is not None:
            self.send_header("x-request-time-secs", f"{time.monotonic() - started:.6f}")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not trickle:
            self.wfile.write(body)
            return
        for i in range(len(body)):
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(TRICKLE_DELAY)


class Emulator:
    """A ring of emulated clusters on loopback: the primary, and a backup when asked.

    Usable in-process (`with Emulator(port=0) as emu: emu.url`) and from `python -m kjob.emulator`.
    `tls=(certificate file, key file)` serves HTTPS. `db` is the ring's SQLite database file
    (in memory by default), `seed` SQL statements run on it after the demo tables. The
    other keywords set behaviour that Kinetica's public material does not settle
    (docs/PROTOCOL-NOTES.md); the defaults are the most likely.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9191,
        backup_port: int | None = None,
        *,
        job_duration: float = 1.0,
        replication_delay: float = 0.0,
        credentials: Credentials | None = None,
        faults: tuple[str, ...] = (),
        verbose: bool = False,
        record: bool = False,
        tls: tuple[str, str] | None = None,
        db: str = ":memory:",
        seed: tuple[str, ...] | list[str] = (),
        max_get_records_size: int = sql.MAX_GET_RECORDS_SIZE,
        retention: float | None = 3600.0,
        progress: str = "linear",
        cancel_checkpoint: float = 0.2,
        show_jobs_tags: str = "json",
        snappy_answer_type: str = "octet-stream",
    ) -> None:
        if snappy_answer_type not in SNAPPY_ANSWER_TYPES:
            raise ValueError(f"snappy answer type {snappy_answer_type!r}: expected one of {', '.join(SNAPPY_ANSWER_TYPES)}")
        ports = [port] if backup_port is None else [port, backup_port]
        try:
            database = sql.Database(db, max_get_records_size=max_get_records_size, seed=sql.DEMO_TABLES + tuple(seed))
        except sqlite3.Error as exc:
            raise ValueError(f"cannot open the database {db}: {exc}") from None
        except sql.SqlError as exc:
            raise ValueError(f"cannot seed the database: {exc}") from None
        self.ring = Ring(len(ports), job_duration=job_duration, replication_delay=replication_delay, database=database,
                         retention=retention, progress_shape=progress, cancel_checkpoint=cancel_checkpoint,
                         show_jobs_tags=show_jobs_tags)
        credentials = credentials or Credentials()
        self.clusters: list[ClusterServer] = []
        try:
            for index, each_port in enumerate(ports):
                self.clusters.append(ClusterServer(self.ring, index, host, each_port, credentials, verbose, tls,
                                                   snappy_answer_type))
        except OSError:
            for cluster in self.clusters:
                cluster.listener.server_close()
            database.close()
            raise
        for spec in faults:
            self.primary.faults.add(spec)
        if record:
            for cluster in self.clusters:
                cluster.recorded = []

    @property
    def primary(self) -> ClusterServer:
        return self.clusters[0]

    @property
    def backup(self) -> ClusterServer | None:
        return self.clusters[1] if len(self.clusters) > 1 else None

    @property
    def url(self) -> str:
        return self.primary.url

    @property
    def urls(self) -> list[str]:
        return [cluster.url for cluster in self.clusters]

    def start(self) -> Emulator:
        for cluster in self.clusters:
            cluster.start()
        return self

    def stop(self) -> None:
        for cluster in self.clusters:
            cluster.stop()
        self.ring.database.close()

    def job_count(self) -> int:
        return self.ring.count()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
