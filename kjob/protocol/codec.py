"""Requests and responses on the wire, in the three client encodings; no HTTP here.

binary: the request is the Avro binary of the endpoint's request record.
json:   the request is the record as JSON, fields in schema order, `bytes` as one character
        per byte (what the official client sends; we do not escape non-ASCII, see json_bytes).
snappy: the Avro binary, snappy-compressed (raw snappy, one call).
Responses are the `gpudb_response` wrapper: Avro binary for binary and snappy (never
compressed), JSON for json; the wrapper's `data` / `data_str` holds the endpoint's response.
"""

from __future__ import annotations

import json
from typing import Any

from kjob.errors import ProtocolError, ServerRefused
from kjob.protocol import avro, schemas

ENCODINGS = ("binary", "json", "snappy")

CONTENT_TYPES = {
    "binary": "application/octet-stream",
    "json": "application/json",
    "snappy": "application/x-snappy",
}


def json_bytes(value: Any, *, ascii_only: bool = False) -> bytes:
    """JSON text as UTF-8, encoded once.

    Requests: the official client uses json.dumps' defaults; we keep its separators (so bodies
    of characters below U+007F are byte-identical) but not ensure_ascii, which turns each byte
    0x80-0xFF of a `bytes` field into a six-character escape. Responses (the emulator's) are
    `ascii_only`, escaped as Kinetica's are: the official client reads them as latin-1.
    """
    try:
        return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(f"cannot encode as JSON: a string holds a lone surrogate ({exc.reason})") from exc


def parse_json(text: str | bytes, what: str) -> Any:
    """json.loads with a ProtocolError that says what was being read and where it broke."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise ProtocolError(f"{what} is not valid JSON ({len(text)} bytes): {exc}") from exc
    except RecursionError:
        raise ProtocolError(f"{what} is nested too deeply to read ({len(text)} bytes)") from None


def snappy_compress(data: bytes) -> bytes:
    """Raw snappy, as the official client sends it."""
    import snappy

    return snappy.compress(data)


def snappy_compress_view(data: bytes | memoryview) -> memoryview:
    """Raw snappy in one call, kept in the compressor's own buffer: python-snappy's compress()
    copies that buffer into bytes, which for a large payload is one more copy of it. cramjam is
    python-snappy's engine (a dependency of python-snappy 0.7)."""
    import cramjam

    return memoryview(cramjam.snappy.compress_raw(data))


def snappy_decompress(data: bytes) -> bytes:
    import snappy

    try:
        return snappy.decompress(data)
    except Exception as exc:  # snappy raises its own and cramjam's error types
        raise ProtocolError(f"body is not valid snappy ({len(data)} bytes): {exc}") from exc


def encode_record(schema: schemas.RecordSchema, record: dict, encoding: str) -> bytes:
    """A record as a request body in `encoding`."""
    if encoding == "json":
        return json_bytes(schema.to_json_value(record))
    body = schema.encode(record)
    return snappy_compress(body) if encoding == "snappy" else body


def decode_record(schema: schemas.RecordSchema, body: bytes, encoding: str) -> dict:
    """A request body in `encoding` as a record (what a server does)."""
    if encoding == "json":
        return schema.from_json_value(parse_json(body, schema.name))
    if encoding == "snappy":
        body = snappy_decompress(body)
    return schema.decode(body)


def encode_request(endpoint: str, record: dict, encoding: str) -> bytes:
    """The body of a request to `endpoint` in `encoding`."""
    return encode_record(schemas.endpoint(endpoint).request, record, encoding)


def decode_request(endpoint: str, body: bytes, encoding: str) -> dict:
    """A request body as the endpoint's request record."""
    return decode_record(schemas.endpoint(endpoint).request, body, encoding)


def response_encoding(encoding: str) -> str:
    """Responses are Avro binary for binary and snappy requests, JSON for json."""
    return "json" if encoding == "json" else "binary"


def encode_response(endpoint: str, record: dict, encoding: str) -> bytes:
    """An OK wrapper around the endpoint's response (what a server sends)."""
    schema = schemas.endpoint(endpoint).response
    if response_encoding(encoding) == "json":
        data_str = json.dumps(schema.to_json_value(record))
        wrapped = {"status": "OK", "message": "", "data_type": schema.name, "data": b"", "data_str": data_str}
    else:
        wrapped = {"status": "OK", "message": "", "data_type": schema.name, "data": schema.encode(record), "data_str": ""}
    return encode_wrapper(wrapped, encoding)


def encode_error(message: str, encoding: str) -> bytes:
    """An ERROR wrapper carrying `message`."""
    return encode_wrapper({"status": "ERROR", "message": message, "data_type": "none", "data": b"", "data_str": ""}, encoding)


def encode_wrapper(wrapped: dict, encoding: str) -> bytes:
    schema = schemas.wrapper()
    if response_encoding(encoding) == "json":
        return json_bytes(schema.to_json_value(wrapped), ascii_only=True)
    return schema.encode(wrapped)


def decode_wrapper(body: bytes, encoding: str) -> dict:
    """The `gpudb_response` wrapper of a response body, with `data_str` kept as sent.

    In json mode `data_str` may be a string holding JSON or an embedded JSON object.
    """
    schema = schemas.wrapper()
    if response_encoding(encoding) == "binary":
        return schema.decode(body)
    value = parse_json(body, "gpudb_response")
    if isinstance(value, dict) and isinstance(value.get("data_str"), (dict, list)):
        embedded = value["data_str"]
        value = {**value, "data_str": ""}
        wrapped = schema.from_json_value(value)
        wrapped["data_str"] = embedded
        return wrapped
    return schema.from_json_value(value)


def decode_response(endpoint: str, body: bytes, encoding: str) -> dict:
    """The endpoint's response record from a response body; an ERROR wrapper raises ServerRefused."""
    wrapped = decode_wrapper(body, encoding)
    return unwrap(endpoint, wrapped)


def unwrap(endpoint: str, wrapped: dict) -> dict:
    """The endpoint's response record inside a decoded wrapper."""
    if wrapped["status"] != "OK":
        raise ServerRefused(wrapped["message"], endpoint=endpoint)
    schema = schemas.endpoint(endpoint).response
    if wrapped["data_type"] != schema.name:
        raise ProtocolError(f"expected a {schema.name} from {endpoint}, the server sent data_type {wrapped['data_type']!r}")
    data_str = wrapped["data_str"]
    if isinstance(data_str, (dict, list)):
        return schema.from_json_value(data_str)
    if data_str or not wrapped["data"]:
        return schema.from_json_value(parse_json(data_str, schema.name))
    return schema.decode(wrapped["data"])


COPY_CHUNK = 1 << 20


def read_get_job_stream(source: avro.Source, sink, deadline: float | None = None) -> tuple[dict, dict | None]:
    """A binary /get/job answer read field by field: (the wrapper, the get_job_response or None).

    `job_response` is not kept: its size goes to sink.begin() and its bytes to sink.write() in
    chunks. An ERROR wrapper has no response; the caller decides what its message means.
    """
    import time

    wrapper, response = schemas.wrapper(), schemas.endpoint("/get/job").response
    try:
        head = {name: read(source) for name, read in wrapper.field_readers[:3]}  # status, message, data_type
        size = avro.read_length(source)  # the get_job_response's bytes: no more than the answer holds
        start = source.pos
        answer = None
        if head["status"] == "OK":
            if head["data_type"] != response.name or size <= 0:
                raise ProtocolError(f"expected a {response.name}, the server sent data_type {head['data_type']!r} ({size} bytes)")
            answer = {}
            for name, read in response.field_readers:
                if name != "job_response":
                    answer[name] = read(source)
                    continue
                if deadline is not None and time.monotonic() > deadline:
                    raise avro.Truncated("the answer's head did not arrive in time")
                length = avro.read_length(source)
                if length > size - (source.pos - start):  # checked before the sink allocates anything
                    raise avro.Truncated(f"a job_response of {length} bytes at offset {source.pos}, more than the"
                                         f" {size - (source.pos - start)} left of the get_job_response")
                sink.begin(length)
                while length:
                    chunk = source.read(min(COPY_CHUNK, length))
                    sink.write(chunk)
                    length -= len(chunk)
                answer[name] = b""
            if source.pos - start != size:
                raise ProtocolError(f"get_job_response took {source.pos - start} bytes, the wrapper said {size}")
        else:
            source.read(size)
        head["data"] = b""
        head["data_str"] = avro.read_string(source)
    except avro.Truncated as exc:
        raise ProtocolError(f"malformed or truncated Avro gpudb_response: {exc}") from exc
    return head, answer
