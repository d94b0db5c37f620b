"""Big bodies without big memory: payloads digested as they arrive, responses written as they go.

A /create/job payload (`data` or `data_str`) over LARGE_PAYLOAD bytes is not kept: the emulator reads it from the
socket into a SHA-256 and a byte count (tests compare the digest with the file's). A job
whose response is padded past STREAM_PADDING bytes keeps its response as a `Spliced` value
(the bytes around a run of padding), and /get/job writes it out in chunks: the emulator
serves benchmarks of any size without becoming the bottleneck or the memory hog.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from kjob.protocol import avro, schemas

LARGE_PAYLOAD = 8 << 20
STREAM_PADDING = 1 << 20
PAD_BYTE = b"x"
CHUNK = 1 << 20


class Digested(NamedTuple):
    """A payload that was read but not kept."""

    size: int
    sha256: str


class Spliced(NamedTuple):
    """Bytes made of `head`, `pad` padding bytes and `tail`, never joined in memory."""

    head: bytes
    pad: int
    tail: bytes

    def __len__(self) -> int:
        return len(self.head) + self.pad + len(self.tail)

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        block = PAD_BYTE * min(CHUNK, self.pad)
        left = self.pad
        while left:
            piece = block if left >= len(block) else block[:left]
            yield piece
            left -= len(piece)
        yield self.tail


class BoundedReader:
    """Exactly `size` bytes of a stream (the request body), no more."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream, self.left = stream, size

    def read(self, size: int) -> bytes:
        chunk = self.stream.read(min(size, self.left))
        self.left -= len(chunk)
        return chunk


def digest_stream(stream: BinaryIO, length: int) -> tuple[str, int]:
    """Read `length` bytes into a SHA-256: (hex digest, bytes read)."""
    digest, left = hashlib.sha256(), length
    while left:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest(), length - left


def read_create_job(stream: BinaryIO, length: int) -> dict:
    """A binary /create/job request read from the socket; a large `data` is digested, not kept."""
    source = avro.StreamSource(BoundedReader(stream, length))
    request = {}
    for name, read in schemas.endpoint("/create/job").request.field_readers:
        if name not in ("data", "data_str"):
            request[name] = read(source)
            continue
        size = avro.read_long(source)
        if size <= LARGE_PAYLOAD:
            raw = source.read(size)
            request[name] = raw if name == "data" else raw.decode("utf-8")
            continue
        digest, read = digest_stream(source, size)
        if read != size:
            raise avro.Truncated(f"the payload ended after {read} of {size} bytes")
        request[name] = Digested(size, digest)
    return request


def spliced_response(schema: schemas.RecordSchema, record: dict, pad: int) -> Spliced:
    """The Avro of `record` with `pad` padding bytes as info's emulator_padding value."""
    marker = os.urandom(16).hex()
    encoded = schema.encode({**record, "info": {**record["info"], "emulator_padding": marker}})
    return _splice(encoded, marker.encode(), lambda before, after: Spliced(before + avro.encode_long(pad), pad, after))


def spliced_get_job(answer: dict) -> tuple[list[bytes | Spliced], int]:
    """A whole binary /get/job answer (wrapper included) whose job_response is a Spliced value."""
    inner = answer["job_response"]
    marker = os.urandom(16)
    get_job = schemas.endpoint("/get/job").response
    encoded = get_job.encode({**answer, "job_response": marker})
    parts = _splice(encoded, marker, lambda before, after: [before + avro.encode_long(len(inner)), inner, after])
    size = sum(len(part) for part in parts)
    wrapper = schemas.wrapper().encode(
        {"status": "OK", "message": "", "data_type": get_job.name, "data": marker, "data_str": ""}
    )
    whole = _splice(wrapper, marker, lambda before, after: [before + avro.encode_long(size), *parts, after])
    return whole, sum(len(part) for part in whole)


def _splice(encoded: bytes, marker: bytes, build):
    """Cut `encoded` around the length-prefixed `marker` and build the whole from the two sides."""
    framed = avro.encode_long(len(marker)) + marker
    at = encoded.index(framed)
    return build(encoded[:at], encoded[at + len(framed) :])
