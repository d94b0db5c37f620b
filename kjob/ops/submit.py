"""kjob submit: the payload read, checked against its schema and encoded, its tag fixed, then
the job started and recorded.

Everything is decided before anything is sent; bad input raises BadInput (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from kjob import inputs
from kjob.errors import BadInput, ProtocolError, TagTaken
from kjob.http.session import FileData
from kjob.model import Created, canonical_payload, check_tag, new_tag, payload_digest, tag_from_payload
from kjob.ops.context import App
from kjob.protocol import encodings, payload


@dataclass(frozen=True)
class SubmitRequest:
    """What the user asked to submit, as the options gave it."""

    endpoint: str
    data: str | None = None
    file: str | None = None
    avro_file: str | None = None
    schema_file: str | None = None
    encoding: str = "binary"
    tag: str | None = None
    tag_from_payload: bool = False
    tag_key: str = ""
    reuse: bool = False  # --if-exists reuse


@dataclass(frozen=True)
class Submission:
    """What goes to /create/job."""

    endpoint: str
    request_encoding: str
    data: bytes | FileData  # a file's payload is streamed from disk when it is sent
    data_str: str
    tag: str
    digest: str | None = None  # of the payload (its defaults filled in), kept for --if-exists reuse to compare


def check_endpoint(endpoint: str) -> str:
    if not endpoint.startswith("/") or any(ch.isspace() for ch in endpoint) or "//" in endpoint:
        raise BadInput(f"endpoint {endpoint!r} is not an endpoint path such as /execute/sql")
    return endpoint


def schema_for(endpoint: str, schema_file: str | None, encoding: str) -> payload.Schema | None:
    """The request schema to check and encode the payload with (None: JSON goes unchecked)."""
    if schema_file:
        return payload.Schema(inputs.read_schema(schema_file))
    schema = payload.request_schema(endpoint)
    if schema is None and encodings.named(encoding).avro:
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


def submit(app: App, request: SubmitRequest) -> Created:
    """Start the job (or, --if-exists reuse, find it under its tag) and add it to kjob's record."""
    job = prepare(request)
    created = app.client().create_job(job.endpoint, job.request_encoding, job.data, job.data_str, job.tag,
                                      reuse=request.reuse)
    recorded = app.history.payload_of(created.job_tag, job.endpoint) if created.existed else None  # read only for a reuse
    check_reuse(created, job.endpoint, recorded, job.digest)
    if not (created.existed and app.history.tag_of(created.job_id, created.cluster) == created.job_tag):
        app.remember(created, job.digest)  # a reused job kjob already recorded stays one entry
    return created


def prepare(request: SubmitRequest) -> Submission:
    """Read, check and encode the payload, and fix the job's tag."""
    endpoint, data, file, avro_file = request.endpoint, request.data, request.file, request.avro_file
    encoding, tag, tag_from_payload_flag = request.encoding, request.tag, request.tag_from_payload
    check_endpoint(endpoint)
    if tag is not None and tag_from_payload_flag:
        raise BadInput("give --tag or --tag-from-payload, not both")
    if tag is not None:
        check_tag(tag)  # an empty --tag '' is refused, never replaced by a new one
    if avro_file is not None:
        if data is not None or file is not None:
            raise BadInput("--avro sends a pre-encoded payload: do not also give --data or --file")
        if not encodings.named(encoding).avro:
            raise BadInput("--avro sends Avro binary: use --encoding binary or snappy")
        data_bytes, source = avro_payload(avro_file, encoding, digest=tag_from_payload_flag or request.reuse)
        data_str = ""
    else:
        value = inputs.read_payload(data, file)
        schema = schema_for(endpoint, request.schema_file, encoding)
        try:
            data_bytes, data_str = payload.encode_payload(schema, value, encoding)
        except payload.PayloadMismatch as exc:
            raise BadInput(exc.message) from None
        except ProtocolError as exc:
            raise BadInput(f"payload: {exc.message}") from None
        # Digested (for the tag, for reuse) with its defaults filled in: a payload that leaves a
        # default out is the same. Only when asked: it costs as much again as the encoding.
        digested = schema is not None and (tag_from_payload_flag or request.reuse)
        source = payload.to_json_value(schema.conform(value)) if digested else value
    digest = None
    if tag_from_payload_flag or request.reuse:
        canonical = canonical_payload(source)  # serialised once, for the tag and the digest
        digest = payload_digest(canonical)
        if tag_from_payload_flag:
            tag = tag_from_payload(endpoint, canonical, request.tag_key)
    return Submission(endpoint, encoding, data_bytes, data_str, tag or new_tag(), digest)


def check_reuse(created: Created, endpoint: str, recorded: str | None, digest: str | None) -> None:
    """--if-exists reuse reports the job under the tag only when it is the same job: the same
    endpoint, and the same payload when kjob submitted that job from here (`recorded`: the server
    never says what a job was given). Another job under that tag is a refusal (exit 8)."""
    if not created.existed:
        return
    if created.endpoint != endpoint:
        raise TagTaken(
            f"tag {created.job_tag!r} already names job {created.job_id} on {created.cluster}, which runs {created.endpoint}, "
            f"not {endpoint}: --if-exists reuse reports only the same job; choose another tag"
        )
    if recorded and digest and recorded != digest:
        raise TagTaken(
            f"tag {created.job_tag!r} already names job {created.job_id} on {created.cluster}, which kjob submitted from here "
            "with another payload: --if-exists reuse reports only the same job; choose another tag (--tag-from-payload "
            "gives each payload its own)"
        )


def avro_payload(path: str, encoding: str, *, digest: bool) -> tuple[bytes | FileData, Any]:
    """A pre-encoded Avro payload: (what goes in `data`, what --tag-from-payload digests).

    A file sent as binary stays on disk and is streamed into the request; snappy must
    compress it whole (one call: the payload plus its compressed copy); stdin is read whole.
    """
    try:
        if path != "-" and encodings.named(encoding).streams:
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

    return encodings.named(encoding).compress_view(raw), hashlib.sha256(raw).digest() if digest else None


def _file_digest(path: str) -> bytes:
    """A file's SHA-256, read in chunks: what --tag-from-payload digests for a pre-encoded payload."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()
