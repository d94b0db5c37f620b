"""What `submit` sends: the payload read, checked against its schema and encoded, and its tag.

Everything is decided here before anything is sent; bad input raises BadInput (exit 2).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from kjob import inputs
from kjob.errors import BadInput, ProtocolError
from kjob.jobs import check_tag, new_tag, tag_from_payload
from kjob.protocol import codec, payload


@dataclass
class Submission:
    endpoint: str
    request_encoding: str
    data: bytes
    data_str: str
    tag: str


def check_endpoint(endpoint: str) -> str:
    if not endpoint.startswith("/") or any(ch.isspace() for ch in endpoint) or "//" in endpoint:
        raise BadInput(f"endpoint {endpoint!r} is not an endpoint path such as /execute/sql")
    return endpoint


def schema_for(endpoint: str, schema_file: str | None, encoding: str) -> payload.Schema | None:
    """The request schema to check and encode the payload with (None: JSON goes unchecked)."""
    if schema_file:
        return payload.Schema(inputs.read_schema(schema_file))
    schema = payload.request_schema(endpoint)
    if schema is None and encoding != "json":
        raise BadInput(
            f"kjob has no request schema for {endpoint}: give --schema FILE (its Avro schema), "
            "or send the payload as JSON with --encoding json"
        )
    return schema


def prepare(
    endpoint: str,
    *,
    data: str | None,
    file: str | None,
    avro_file: str | None,
    schema_file: str | None,
    encoding: str,
    tag: str | None,
    tag_from_payload_flag: bool,
    tag_key: str,
) -> Submission:
    """Read, check and encode the payload, and fix the job's tag."""
    check_endpoint(endpoint)
    if tag and tag_from_payload_flag:
        raise BadInput("give --tag or --tag-from-payload, not both")
    if tag:
        check_tag(tag)
    if avro_file is not None:
        if data is not None or file is not None:
            raise BadInput("--avro sends a pre-encoded payload: do not also give --data or --file")
        if encoding == "json":
            raise BadInput("--avro sends Avro binary: use --encoding binary or snappy")
        raw = read_avro(avro_file)
        body = codec.snappy_compress(raw) if encoding == "snappy" else raw
        source: Any = raw
        data_bytes, data_str = body, ""
    else:
        value = inputs.read_payload(data, file)
        schema = schema_for(endpoint, schema_file, encoding)
        try:
            data_bytes, data_str = payload.encode_payload(schema, value, encoding)
        except payload.PayloadMismatch as exc:
            raise BadInput(exc.message) from None
        except ProtocolError as exc:
            raise BadInput(f"payload: {exc.message}") from None
        source = value
    if tag_from_payload_flag:
        tag = tag_from_payload(endpoint, source, tag_key)
    return Submission(endpoint, encoding, data_bytes, data_str, tag or new_tag())


def read_avro(path: str) -> bytes:
    """A pre-encoded Avro payload, whole."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IsADirectoryError:
        raise BadInput(f"--avro: {path} is a directory, not a file") from None
    except OSError as exc:
        raise BadInput(f"--avro: cannot read {path}: {exc.strerror or exc}") from None
