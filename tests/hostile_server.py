"""The test suite's own HTTP server on 127.0.0.1, for what the emulator, a well-behaved server,
never sends: it answers every request with one scripted reply, byte for byte as written (wrong
lengths, a drip, escape sequences, a redirect, a gzip bomb), or with the records a test writes
(`answering`: another job named, status words kjob does not know, /admin/show/jobs rows in the
server's own words).

Bounded: it serves at most `max_connections` connections and stops by itself after
`lifetime` seconds, whatever the client does; a drip stops with it.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kjob.protocol import avro, codec, payload, schemas

Reply = bytes | Callable[["Request"], Iterable[bytes]]


@dataclass
class Request:
    """What a client sent: the request line, its headers (lower-case names) and its body."""

    line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Hostile:
    """`with Hostile(reply) as server:` a server at `server.url` that answers every request with `reply`."""

    def __init__(self, reply: Reply, *, drip: float = 0.0, max_connections: int = 20, lifetime: float = 30.0,
                 read_request: bool = True) -> None:
        self.reply = reply
        self.read_request = read_request  # False: answer at once, as to a TLS handshake it does not read
        self.drip = drip  # seconds between two chunks (a bytes reply drips a byte at a time)
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.requests: list[Request] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._ends = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, name="hostile-server", daemon=True)

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        served = 0
        with self._listener:
            while not self._stop.is_set() and served < self.max_connections and time.monotonic() < self._ends:
                try:
                    connection, _ = self._listener.accept()
                except TimeoutError:
                    continue
                served += 1
                threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._ends

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                request = _read_request(connection) if self.read_request else Request("")
                self.requests.append(request)
                chunks = [self.reply] if isinstance(self.reply, bytes) else self.reply(request)
                for chunk in chunks:
                    pieces = [chunk[i : i + 1] for i in range(len(chunk))] if self.drip and isinstance(self.reply, bytes) else [chunk]
                    for piece in pieces:
                        if not self._running():
                            return
                        connection.sendall(piece)
                        if self.drip:
                            self._stop.wait(self.drip)
            except OSError:
                return


def _read_request(connection: socket.socket) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        more = connection.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < min(length, 1 << 24):
        more = connection.recv(65536)
        if not more:
            break
        body += more
    return Request(lines[0], headers, body)


# --- replies ---------------------------------------------------------------------------------


def http(body: bytes, status: str = "200 OK", *, content_type: str = "application/octet-stream",
         headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer; `length` overrides the Content-Length (None: the body's; -1: none)."""
    fields = {"Content-Type": content_type, "Connection": "close", **(headers or {})}
    size = len(body) if length is None else length
    if size >= 0:
        fields["Content-Length"] = str(size)
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


def job_record(status: str = "DONE", *, running: bool = False, progress: int = 100, tag: str = "t1", job_id: int = 1,
               **fields) -> dict:
    """A /get/job response record of an /alter/table job with no job response, with `fields` changed."""
    return {"endpoint": "/alter/table", "job_status": status, "running": running, "progress": progress,
            "successful": status.upper() == "DONE", "response_encoding": "binary", "job_response": b"",
            "job_response_str": "", "status_map": {}, "info": {"job_tag": tag, "job_id": str(job_id)}, **fields}


def get_job(encoding: str = "binary", **fields) -> bytes:
    """An OK /get/job answer (Avro binary, or JSON) of a DONE /alter/table job, with `fields` changed."""
    return codec.encode_response("/get/job", job_record(**fields), encoding)


def answering(answers: dict[str, Callable[[dict], dict]]) -> Callable[[Request], Iterable[bytes]]:
    """A cluster whose answers a test writes: `answers[path](request record) -> response record`, both
    in Avro binary (kjob's default wire); a path without an answer is a 404."""
    def reply(request: Request) -> Iterable[bytes]:
        path = request.line.split(" ")[1]
        if path not in answers:
            yield http(b"", "404 Not Found", content_type="text/plain")
            return
        record = answers[path](codec.decode_request(path, request.body, "binary"))
        yield http(codec.encode_response(path, record, "binary"))

    return reply


def error(message: str) -> bytes:
    """An ERROR answer carrying `message` (what a server that echoes its request would send)."""
    return codec.encode_error(message, "binary")


def sql_job(headers: list[str], rows: list[list[str]]) -> bytes:
    """A /get/job answer of a DONE /execute/sql job whose result set holds `rows` (string columns)."""
    dynamic = {"type": "record", "name": "generic_response",
               "fields": [{"name": f"column_{i + 1}", "type": {"type": "array", "items": "string"}} for i in range(len(headers))]
               + [{"name": "column_headers", "type": {"type": "array", "items": "string"}},
                  {"name": "column_datatypes", "type": {"type": "array", "items": "string"}}]}
    columns = {f"column_{i + 1}": [row[i] for row in rows] for i in range(len(headers))}
    columns["column_headers"] = headers
    columns["column_datatypes"] = ["string"] * len(headers)
    response = {"count_affected": 0, "response_schema_str": json.dumps(dynamic),
                "binary_encoded_response": payload.Schema(dynamic).encode(columns), "json_encoded_response": "",
                "total_number_of_records": len(rows), "has_more_records": False, "paging_table": "", "info": {}}
    job_response = schemas.endpoint("/execute/sql").response.encode(response)
    return get_job(endpoint="/execute/sql", job_response=job_response)


def free_items_job(count: int) -> bytes:
    """A /get/job answer of a DONE /execute/sql job whose result schema is an array of nulls
    claiming `count` items: items that take no bytes, so nothing in the answer bounds the count."""
    dynamic = {"type": "record", "name": "generic_response",
               "fields": [{"name": "column_1", "type": {"type": "array", "items": "null"}},
                          {"name": "column_headers", "type": {"type": "array", "items": "string"}}]}
    response = {"count_affected": 0, "response_schema_str": json.dumps(dynamic),
                "binary_encoded_response": avro.encode_long(count), "json_encoded_response": "",
                "total_number_of_records": 1, "has_more_records": False, "paging_table": "", "info": {}}
    return get_job(endpoint="/execute/sql", job_response=schemas.endpoint("/execute/sql").response.encode(response))


def _string(text: str) -> bytes:
    return avro.encode_long(len(text.encode())) + text.encode()


def claiming(what: str, count: int, *, data_size: int | None = None) -> bytes:
    """The start of a /get/job answer whose `what` (endpoint, job_response, job_response_str: bytes; status_map: entries)
    claims `count`, followed by nothing; the wrapper claims `data_size` bytes of data (default:
    what follows)."""
    fields = _string("/alter/table") + _string("DONE") + b"\x00" + avro.encode_long(100) + b"\x01" + _string("binary")
    if what == "endpoint":
        fields = avro.encode_long(count)
    elif what == "job_response":
        fields += avro.encode_long(count)
    elif what == "job_response_str":
        fields += _string("") + avro.encode_long(count)
    else:
        fields += _string("") + _string("") + avro.encode_long(count)  # job_response, job_response_str, the map
    size = len(fields) if data_size is None else data_size
    return _string("OK") + _string("") + _string("get_job_response") + avro.encode_long(size) + fields


def endless_map(request: Request) -> Iterable[bytes]:
    """An answer (no Content-Length) whose status_map claims 2^30 entries, sent as long as the client reads."""
    yield http(claiming("status_map", 1 << 30, data_size=1 << 20), length=-1)
    entry = (_string("k") + _string("v")) * 200
    while True:
        yield entry


def gzip_bomb(inflated: int) -> bytes:
    """`inflated` zero bytes, gzip-compressed (about a thousandth of the size)."""
    return gzip.compress(b"\0" * inflated, compresslevel=9)


def job_list(**columns) -> bytes:
    """An /admin/show/jobs answer of one job, with `columns` (one value each) changed."""
    row = {"job_id": 1, "status": "RUNNING", "endpoint_name": "/alter/table", "time_received": 0, "auth_id": "alice",
           "source_ip": "", "query_text": "", "user_data": "", "flags": "", **columns}
    record = {name: [value] for name, value in row.items()}
    record["info"] = {"job_tag": "t1"}
    return codec.encode_response("/admin/show/jobs", record, "binary")


def echo_authorization(request: Request) -> Iterable[bytes]:
    """An ERROR that repeats the request's Authorization header, decoded too (a careless server)."""
    import base64

    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    decoded = base64.b64decode(value).decode() if scheme == "Basic" else value
    yield http(error(f"bad credentials {authorization} ({decoded})"), "400 Bad Request")
