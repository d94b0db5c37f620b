"""Requests and responses of an endpoint on the wire, an encoding given by name; no HTTP here.

What each encoding does is its object's (encodings.py). Responses are the `gpudb_response`
wrapper; its `data` / `data_str` holds the endpoint's response.
"""

from __future__ import annotations

from kjob.errors import ProtocolError, ServerRefused
from kjob.protocol import avro, schemas
from kjob.protocol.encodings import named, parse_json


def encode_record(schema: schemas.RecordSchema, record: dict, encoding: str) -> bytes:
    """A record as a request body in `encoding`."""
    return named(encoding).encode_record(schema, record)


def decode_record(schema: schemas.RecordSchema, body: bytes, encoding: str) -> dict:
    """A request body in `encoding` as a record (what a server does)."""
    return named(encoding).decode_record(schema, body)


def encode_request(endpoint: str, record: dict, encoding: str) -> bytes:
    """The body of a request to `endpoint` in `encoding`."""
    return encode_record(schemas.endpoint(endpoint).request, record, encoding)


def decode_request(endpoint: str, body: bytes, encoding: str) -> dict:
    """A request body as the endpoint's request record."""
    return decode_record(schemas.endpoint(endpoint).request, body, encoding)


def encode_response(endpoint: str, record: dict, encoding: str) -> bytes:
    """An OK wrapper around the endpoint's response (what a server sends)."""
    schema = schemas.endpoint(endpoint).response
    data, data_str = named(encoding).answers.answer_data(schema, record)
    return encode_wrapper({"status": "OK", "message": "", "data_type": schema.name, "data": data, "data_str": data_str}, encoding)


def encode_error(message: str, encoding: str) -> bytes:
    """An ERROR wrapper carrying `message`."""
    return encode_wrapper({"status": "ERROR", "message": message, "data_type": "none", "data": b"", "data_str": ""}, encoding)


def encode_wrapper(wrapped: dict, encoding: str) -> bytes:
    return named(encoding).answers.encode_answer(schemas.wrapper(), wrapped)


def decode_wrapper(body: bytes, encoding: str) -> dict:
    """The `gpudb_response` wrapper of a response body, with `data_str` kept as sent.

    In json mode `data_str` may be a string holding JSON or an embedded JSON object.
    """
    return named(encoding).answers.decode_answer(schemas.wrapper(), body)


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
