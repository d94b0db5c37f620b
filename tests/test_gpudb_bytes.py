"""Byte equality with the official client: what gpudb 7.2.3.13 sends is what kjob's codec writes.

A capture server on 127.0.0.1 (port 0, HTTP/1.1, in a thread) records each POST's path, headers
and body and answers with responses built by kjob.protocol.codec, so the official client's
constructor succeeds and its create_job/get_job calls get real answers. Each test compares the
captured body with codec.encode_request for the same record, and decodes it with kjob.

JSON caveat (encodings.json_bytes): gpudb escapes every character outside U+0020-U+007E
(json.dumps' ensure_ascii) and kjob does not escape non-ASCII, so JSON bodies are compared
byte for byte only when every character and byte is in 0x00-0x7E (DEL, 0x7F, is escaped by
gpudb too), and with json.loads (values and key order) always.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gpudb
import pytest
import snappy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kjob.protocol import codec, encodings, payload, schemas

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
CLIENT_ENCODINGS = {"BINARY": "binary", "JSON": "json", "SNAPPY": "snappy"}
# The capture server's own reading of a request's Content-Type (not kjob's table, which is under test).
WIRE_ENCODINGS = {"application/octet-stream": "binary", "application/x-snappy": "snappy"}

CALLS = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ALTER_TABLE_RESPONSE = (  # Avro binary of an alter_table_response: table_name "t", action "refresh", rest empty
    b"\x02t" + b"\x0erefresh" + b"\x00" * 6
)
RUNNING = {"status_map": {"system": json.dumps({"status": "running"})}, "info": {}}
VERSION = {"version.gpudb_core_version": "7.2.3.13", "conf.enable_ha": "FALSE"}


@dataclass
class Captured:
    path: str
    headers: Message  # case-insensitive look-ups, as HTTP headers are
    body: bytes


class CaptureServer:
    """A Kinetica stand-in that records every POST and answers with kjob's codec.

    Binary (octet-stream) answers for octet-stream and x-snappy requests, JSON otherwise.
    `answers` maps a path to its response record; `errors` maps a path to an ERROR message.
    """

    def __init__(self, property_map: dict | None = None) -> None:
        self.captured: list[Captured] = []
        self.errors: dict[str, str] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        properties = (
            {**VERSION, "conf.number_of_hosts": "1", "conf.host0_public_urls": self.url}
            if property_map is None
            else property_map
        )
        self.answers: dict[str, dict] = {
            "/show/system/status": RUNNING,
            "/show/system/properties": {"property_map": properties, "info": {}},
            "/create/job": {"job_id": 4242, "info": {"job_tag": "server-tag", "query_id": "q-1"}},
            "/get/job": done_job(ALTER_TABLE_RESPONSE, ""),
        }
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.captured.append(Captured(self.path, self.headers, body))
                encoding = WIRE_ENCODINGS.get(self.headers.get("Content-Type"), "json")
                if self.path in server.errors:
                    out = codec.encode_error(server.errors[self.path], encoding)
                elif self.path in server.answers:
                    out = codec.encode_response(self.path, server.answers[self.path], encoding)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if encoding == "json" else "application/octet-stream")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def take(self) -> list[Captured]:
        """The requests captured since the last take."""
        taken, self.captured = self.captured, []
        return taken

    def take_one(self, path: str) -> Captured:
        taken = self.take()
        assert [c.path for c in taken] == [path]
        return taken[0]

    @contextlib.contextmanager
    def answering(self, path: str, record: dict | None = None, error: str | None = None):
        saved = self.answers[path]
        if record is not None:
            self.answers[path] = record
        if error is not None:
            self.errors[path] = error
        try:
            yield
        finally:
            self.answers[path] = saved
            self.errors.pop(path, None)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def done_job(job_response: bytes, job_response_str: str, info: dict | None = None) -> dict:
    return {
        "endpoint": "/alter/table", "job_status": "DONE", "running": False, "progress": 100,
        "successful": True, "response_encoding": "json" if job_response_str else "binary",
        "job_response": job_response, "job_response_str": job_response_str,
        "status_map": {}, "info": info or {"job_tag": "server-tag"},
    }


def connect(url: str, encoding: str, **options) -> gpudb.GPUdb:
    opts = gpudb.GPUdb.Options()
    opts.encoding = encoding
    opts.timeout = 30  # guards against a hang; nothing here should take more than milliseconds
    for name, value in options.items():
        setattr(opts, name, value)
    return gpudb.GPUdb(host=url, options=opts)


def close(client: gpudb.GPUdb) -> None:
    client.__exit__(None, None, None)  # closes its two requests sessions


@pytest.fixture(scope="module")
def server():
    capture = CaptureServer()
    yield capture
    capture.close()


@pytest.fixture(scope="module")
def clients(server):
    made = {name: connect(server.url, name) for name in CLIENT_ENCODINGS}
    server.take()
    yield made
    for client in made.values():
        close(client)


# ---------------------------------------------------------------------------------------
# Helpers


def is_plain_ascii(value) -> bool:
    """True when json.dumps escapes nothing differently with and without ensure_ascii."""
    if isinstance(value, str):
        return all(ord(ch) < 0x7F for ch in value)
    if isinstance(value, bytes):
        return all(byte < 0x7F for byte in value)
    if isinstance(value, dict):
        return all(is_plain_ascii(k) and is_plain_ascii(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain_ascii(item) for item in value)
    return True


def json_pairs(body: bytes):
    return json.loads(body, object_pairs_hook=list)


def assert_same_request(captured: Captured, endpoint: str, record: dict, encoding: str) -> None:
    """gpudb's request is kjob's request: path, headers, body; and kjob reads it back."""
    expected = codec.encode_request(endpoint, record, encoding)
    assert captured.path == endpoint
    assert captured.headers["Content-Type"] == encodings.named(encoding).content_type
    assert captured.headers["Accept"] == encodings.named(encoding).content_type
    if encoding == "json":
        assert json_pairs(captured.body) == json_pairs(expected)  # same values, keys in the same order
        if is_plain_ascii(record):
            assert captured.body == expected
    else:
        assert captured.body == expected
    assert codec.decode_request(endpoint, captured.body, encoding) == record


CHARS = st.characters(codec="utf-8")
ASCII = st.characters(max_codepoint=0x7E)  # what json.dumps writes the same with and without ensure_ascii
TAGS = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)


def create_job_records(chars, data):
    text = st.text(chars, max_size=12)
    return st.fixed_dictionaries({
        "endpoint": st.sampled_from(schemas.known_endpoints()) | text,
        "request_encoding": st.sampled_from(["binary", "json", "snappy"]),
        "data": data,
        "data_str": text,
        "options": st.one_of(st.just({}), TAGS.map(lambda tag: {"job_tag": tag}), st.dictionaries(text, text, max_size=3)),
    })


# Half the records are plain ASCII, so that JSON bodies are compared byte for byte too.
CREATE_JOB = st.one_of(
    create_job_records(ASCII, st.lists(st.integers(0, 0x7E), max_size=48).map(bytes)),
    create_job_records(CHARS, st.binary(max_size=48)),
)
GET_JOB = st.fixed_dictionaries({
    "job_id": st.integers(LONG_MIN, LONG_MAX) | st.sampled_from([-1, 0, 1, LONG_MIN, LONG_MAX]),
    "options": st.one_of(st.just({}), TAGS.map(lambda tag: {"job_tag": tag})),
})


# ---------------------------------------------------------------------------------------
# What the constructor sends


STATUS, PROPERTIES = "/show/system/status", "/show/system/properties"
API, QUICK = "kinetica-api-python/7.2.3.13 (Python/", "python-requests/"
CONSTRUCTIONS = {
    # property_map (None: VERSION plus conf.number_of_hosts 1 and conf.host0_public_urls), options
    # -> the (path, User-Agent prefix) of each request gpudb's constructor sends, in order.
    # The connect-time usability check goes through gpudb's second, "fast" requests session,
    # which carries requests' own User-Agent, not the client's.
    "full-properties": (None, {}, [(STATUS, API), (PROPERTIES, API), (STATUS, QUICK)]),
    # Without conf.number_of_hosts discovery fails, gpudb warns and disables auto-discovery, then
    # asks for the properties again to learn the server version.
    "minimal-properties": (VERSION, {}, [(STATUS, API), (PROPERTIES, API), (PROPERTIES, API)]),
    "no-auto-discovery": (None, {"disable_auto_discovery": True}, [(PROPERTIES, API)]),
    "failover-disabled": (None, {"disable_failover": True}, [(STATUS, API), (PROPERTIES, API)]),
}


@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
@pytest.mark.parametrize("construction", list(CONSTRUCTIONS))
def test_constructor_requests(construction, client_encoding):
    """The paths gpudb.GPUdb() calls depend on the property_map and options; each body is kjob's."""
    property_map, options, expected = CONSTRUCTIONS[construction]
    capture = CaptureServer(None if property_map is None else dict(property_map))
    try:
        client = connect(capture.url, client_encoding, **options)
        try:
            calls = capture.take()
            assert [c.path for c in calls] == [path for path, _ in expected]
            encoding = CLIENT_ENCODINGS[client_encoding]
            for call, (_, user_agent) in zip(calls, expected, strict=True):
                assert_same_request(call, call.path, {"options": {}}, encoding)
                assert call.headers["User-Agent"].startswith(user_agent)
                assert call.headers["Authorization"] is None
                assert call.headers["X-Kinetica-Group"] is None
            assert str(client.server_version) == "7.2.3.13"
        finally:
            close(client)
    finally:
        capture.close()


# ---------------------------------------------------------------------------------------
# create_job and get_job, in each client encoding


@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
@CALLS
@given(record=CREATE_JOB)
def test_create_job_request_is_kjobs(server, clients, client_encoding, record):
    encoding = CLIENT_ENCODINGS[client_encoding]
    response = clients[client_encoding].create_job(
        record["endpoint"], record["request_encoding"], record["data"], record["data_str"], dict(record["options"])
    )
    assert_same_request(server.take_one("/create/job"), "/create/job", record, encoding)
    assert response["job_id"] == server.answers["/create/job"]["job_id"]
    assert response["info"] == server.answers["/create/job"]["info"]
    assert response["status_info"]["status"] == "OK"


@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
@CALLS
@given(record=GET_JOB)
def test_get_job_request_is_kjobs(server, clients, client_encoding, record):
    encoding = CLIENT_ENCODINGS[client_encoding]
    response = clients[client_encoding].get_job(record["job_id"], dict(record["options"]))
    assert_same_request(server.take_one("/get/job"), "/get/job", record, encoding)
    answer = server.answers["/get/job"]
    for field in ("endpoint", "job_status", "running", "progress", "successful", "job_response_str", "status_map", "info"):
        assert response[field] == answer[field]
    job_response = response["job_response"]  # a str of latin-1 characters in JSON mode
    assert (job_response.encode("latin-1") if encoding == "json" else job_response) == answer["job_response"]


@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
def test_ascii_json_bodies_are_byte_identical(server, clients, client_encoding):
    """A fixed, all-ASCII record: the strongest form of the comparison, in every encoding."""
    encoding = CLIENT_ENCODINGS[client_encoding]
    record = {
        "endpoint": "/alter/table", "request_encoding": "json", "data": bytes(range(0x7F)),
        "data_str": '{"table_name": "t", "action": "refresh"}', "options": {"job_tag": "nightly-load_7"},
    }
    clients[client_encoding].create_job(
        record["endpoint"], record["request_encoding"], record["data"], record["data_str"], dict(record["options"])
    )
    captured = server.take_one("/create/job")
    assert captured.body == codec.encode_request("/create/job", record, encoding)
    if encoding == "json":
        assert captured.body.startswith(b'{"endpoint": "/alter/table", "request_encoding": "json", "data": "\\u0000')


def test_json_bodies_with_high_bytes_carry_the_same_value(server, clients):
    """Bytes 0x7F-0xFF: gpudb sends \\u00XX escapes (kjob may send the characters); same JSON value."""
    record = {"endpoint": "/x", "request_encoding": "binary", "data": bytes(range(0x7F, 0x100)), "data_str": "é", "options": {}}
    clients["JSON"].create_job(record["endpoint"], record["request_encoding"], record["data"], record["data_str"], {})
    captured = server.take_one("/create/job")
    assert b'"data": "\\u007f\\u0080\\u0081' in captured.body and b'\\u00ff", "data_str": "\\u00e9"' in captured.body
    assert captured.body.isascii()
    assert_same_request(captured, "/create/job", record, "json")


# ---------------------------------------------------------------------------------------
# Payloads built by kjob.protocol.payload, in each request encoding


ALTER_TABLE_PAYLOADS = {
    "ascii": {"table_name": "t", "action": "refresh", "value": "", "options": {}},
    "non-ascii": {"table_name": "ki_home.tâble", "action": "set_comment", "value": "日本語 😀", "options": {"ключ": "ü"}},
}


@pytest.mark.parametrize("payload_name", list(ALTER_TABLE_PAYLOADS))
@pytest.mark.parametrize("request_encoding", ["binary", "json", "snappy"])
@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
def test_create_job_with_a_kjob_payload(server, clients, client_encoding, request_encoding, payload_name):
    encoding = CLIENT_ENCODINGS[client_encoding]
    value = ALTER_TABLE_PAYLOADS[payload_name]
    alter_table = payload.request_schema("/alter/table")
    data, data_str = payload.encode_payload(alter_table, value, request_encoding)

    # The payload is what gpudb itself writes for an /alter/table request.
    reference = clients["BINARY"]
    official_schema = reference.gpudb_schemas["/alter/table"]["REQ_SCHEMA"]
    if request_encoding == "json":
        assert data == b""
        official = reference.encode_datum_cext(official_schema, json.loads(json.dumps(value)), "JSON")
        assert json.loads(data_str) == json.loads(official) == value
        if is_plain_ascii(value):
            assert data_str == official
    else:
        official = reference.encode_datum_cext(official_schema, dict(value))
        assert data_str == ""
        assert data == (snappy.compress(official) if request_encoding == "snappy" else official)

    record = {"endpoint": "/alter/table", "request_encoding": request_encoding, "data": data,
              "data_str": data_str, "options": {"job_tag": "nightly-load_1"}}
    response = clients[client_encoding].create_job("/alter/table", request_encoding, data, data_str, {"job_tag": "nightly-load_1"})
    captured = server.take_one("/create/job")
    assert_same_request(captured, "/create/job", record, encoding)
    assert response["job_id"] == 4242

    # What a server does with it: the request, then the payload inside, back to the user's JSON.
    received = codec.decode_request("/create/job", captured.body, encoding)
    back = payload.decode_payload(alter_table, received["data"], received["data_str"], received["request_encoding"])
    assert payload.to_json_value(back) == value


# ---------------------------------------------------------------------------------------
# gpudb reading what kjob's codec answers


@pytest.mark.parametrize("client_encoding", ["BINARY", "SNAPPY"])
def test_gpudb_reads_kjob_binary_responses_with_every_byte(server, clients, client_encoding):
    job = done_job(bytes(range(256)), "", info={"job_tag": "tâg-日本"})
    job["job_response_str"] = "ünïcode 😀"
    with server.answering("/get/job", job):
        response = clients[client_encoding].get_job(7, {})
    server.take()
    assert response["job_response"] == bytes(range(256))
    assert response["job_response_str"] == "ünïcode 😀"
    assert response["info"] == {"job_tag": "tâg-日本"}


@pytest.mark.parametrize("client_encoding", list(CLIENT_ENCODINGS))
def test_gpudb_reads_kjob_error_answers(server, clients, client_encoding):
    message = "Job 424242 not found"
    with server.answering("/get/job", error=message):
        response = clients[client_encoding].get_job(424242, {})
    assert_same_request(server.take_one("/get/job"), "/get/job", {"job_id": 424242, "options": {}}, CLIENT_ENCODINGS[client_encoding])
    assert response["status_info"]["status"] == "ERROR"
    assert response["status_info"]["message"] == message
    assert response["status_info"]["data_type"] == "none"


def test_gpudb_reads_kjob_json_responses_with_non_ascii(server, clients):
    job = done_job(bytes(range(256)), "", info={"job_tag": "tâg-日本"})
    with server.answering("/get/job", job):
        response = clients["JSON"].get_job(7, {})
    with server.answering("/get/job", error="Tâble « t » introuvable"):
        refused = clients["JSON"].get_job(7, {})
    server.take()
    assert response["job_response"].encode("latin-1") == bytes(range(256))
    assert response["info"] == {"job_tag": "tâg-日本"}
    assert refused["status_info"]["message"] == "Tâble « t » introuvable"
