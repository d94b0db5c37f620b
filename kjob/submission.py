"""What `submit` sends: the payload read, checked against its schema and encoded, and its tag.

Everything is decided here before anything is sent; bad input raises BadInput (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from kjob import inputs
from kjob.errors import BadInput, ProtocolError, TagTaken
from kjob.jobs import check_tag, new_tag, tag_from_payload
from kjob.protocol import codec, payload
from kjob.transport import FileData


@dataclass
class Submission:
    endpoint: str
    request_encoding: str
    data: bytes | FileData  # a file's payload is streamed from disk when it is sent
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
            f"kjob has no request schema for {endpoint}{_did_you_mean(endpoint)}: give --schema FILE (its Avro schema), "
            "or send the payload as JSON with --encoding json"
        )
    return schema


def _did_you_mean(endpoint: str) -> str:
    from kjob.protocol.schemas import closest_endpoint

    close = closest_endpoint(endpoint)
    return f" (did you mean {close}?)" if close else ""


def skeleton_for(endpoint: str, schema_file: str | None, given: tuple = ()) -> dict:
    """What `submit --skeleton` prints: every field of the request, for `submit --file`."""
    check_endpoint(endpoint)
    if any(source is not None for source in given):
        raise BadInput("--skeleton prints a payload to fill in and sends nothing: do not also give --data, --file or --avro")
    schema = schema_for(endpoint, schema_file, "binary")
    if not isinstance(schema.schema, dict) or schema.schema.get("type") != "record":
        raise BadInput(f"--skeleton needs a record schema; {schema.name} is not one")
    return payload.skeleton(schema.schema)


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
    if tag is not None and tag_from_payload_flag:
        raise BadInput("give --tag or --tag-from-payload, not both")
    if tag is not None:
        check_tag(tag)  # an empty --tag '' is refused, never replaced by a new one
    if avro_file is not None:
        if data is not None or file is not None:
            raise BadInput("--avro sends a pre-encoded payload: do not also give --data or --file")
        if encoding == "json":
            raise BadInput("--avro sends Avro binary: use --encoding binary or snappy")
        data_bytes, source = avro_payload(avro_file, encoding, digest=tag_from_payload_flag)
        data_str = ""
    else:
        value = inputs.read_payload(data, file)
        schema = schema_for(endpoint, schema_file, encoding)
        try:
            data_bytes, data_str = payload.encode_payload(schema, value, encoding)
        except payload.PayloadMismatch as exc:
            raise BadInput(exc.message) from None
        except ProtocolError as exc:
            raise BadInput(f"payload: {exc.message}") from None
        checked = schema is not None and tag_from_payload_flag  # the tag digests the request with its defaults filled in
        source = payload.to_json_value(schema.conform(value)) if checked else value
    if tag_from_payload_flag:
        tag = tag_from_payload(endpoint, source, tag_key)
    return Submission(endpoint, encoding, data_bytes, data_str, tag or new_tag())


def check_reuse(created, endpoint: str) -> None:
    """--if-exists reuse reports the job under the tag only when it is the same job: the same
    endpoint. A job of another endpoint under that tag is a refusal that names both (exit 8)."""
    if created.existed and created.endpoint != endpoint:
        raise TagTaken(
            f"tag {created.job_tag!r} already names job {created.job_id} on {created.cluster}, which runs {created.endpoint}, "
            f"not {endpoint}: --if-exists reuse reports only the same job; choose another tag"
        )


def avro_payload(path: str, encoding: str, *, digest: bool) -> tuple[bytes | FileData, Any]:
    """A pre-encoded Avro payload: (what goes in `data`, what --tag-from-payload digests).

    A file sent as binary stays on disk and is streamed into the request; snappy must
    compress it whole (one call: the payload plus its compressed copy); stdin is read whole.
    """
    try:
        if path != "-" and encoding == "binary":
            size = os.stat(path).st_size
            with open(path, "rb"):  # readable now, so that a bad file fails before anything is sent
                pass
            if os.path.isdir(path):
                raise IsADirectoryError(path)
            if size == 0:
                raise BadInput(f"--avro: {path} is empty")
            return FileData(path, size), _file_digest(path) if digest else None
        if path == "-":
            raw = inputs.stdin_bytes("--avro").read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except IsADirectoryError:
        raise BadInput(f"--avro: {path} is a directory, not a file") from None
    except OSError as exc:
        raise BadInput(f"--avro: cannot read {path}: {exc.strerror or exc}") from None
    if not raw:
        raise BadInput(f"--avro: {'stdin' if path == '-' else path} is empty")
    import hashlib

    return (codec.snappy_compress_view(raw) if encoding == "snappy" else raw), hashlib.sha256(raw).digest()


def _file_digest(path: str) -> bytes:
    """A file's SHA-256, read in chunks: what --tag-from-payload digests for a pre-encoded payload."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()
