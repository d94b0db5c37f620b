"""The schema registry: each endpoint's request and response record, kept as data.

endpoints/ holds one JSON file per endpoint (its request schema, with the defaults of the
official client's method signatures, and its response schema), generated from the pinned
gpudb by `make schemas` (generate.py); gpudb_response.json holds the wrapper. One file per
endpoint because kjob uses one or two endpoints per run: parsing one file takes 0.03 ms,
listing the folder (every endpoint's name, for `kjob endpoints` and completion) 0.13 ms,
while all 221 endpoints in one JSON file (159 kB) take 3.5 ms to parse, and 221 files 19 ms
(medians on the development machine). Each schema is parsed and compiled once, on first use.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, cached_property, lru_cache
from typing import Any

from kjob.errors import ProtocolError
from kjob.protocol import avro


class RecordSchema:
    """One Avro record schema with its binary reader and writer.

    `own`: one of the records kjob's client exchanges itself (OWN_ENDPOINTS and the wrapper),
    read and written by kjob's own Avro code; any other record goes through fastavro."""

    def __init__(self, schema: dict, own: bool = False) -> None:
        self.schema = schema
        self.name: str = schema["name"]
        self.own = own

    @cached_property
    def _values(self):
        """The same schema in payload.py: fastavro for the bytes, the one validator for JSON."""
        from kjob.protocol.payload import Schema

        return Schema(self.schema)

    @cached_property
    def _reader(self) -> avro.Reader:
        return avro.compile_reader(self.schema)

    @cached_property
    def _writer(self) -> avro.Writer:
        return avro.compile_writer(self.schema)

    @property
    def field_names(self) -> list[str]:
        return [field["name"] for field in self.schema["fields"]]

    @cached_property
    def field_readers(self) -> list[tuple[str, avro.Reader]]:
        """Each field's name and reader, in order, for reading a record field by field from a stream."""
        return [(field["name"], avro.compile_reader(field["type"])) for field in self.schema["fields"]]

    @cached_property
    def field_writers(self) -> list[tuple[str, avro.Writer]]:
        return [(field["name"], avro.compile_writer(field["type"])) for field in self.schema["fields"]]

    def frame(self, record: dict, field: str, size: int) -> tuple[bytes, bytes]:
        """The Avro binary of `record` around its bytes field `field` of `size` bytes, as
        (everything up to the field's content, everything after it): a large value can then
        be streamed between the two without being copied into one body. Each field is
        encoded once."""
        prefix, suffix = bytearray(), bytearray()
        out = prefix
        with self._encoding():
            for name, write in self.field_writers:
                if name == field:
                    prefix += avro.encode_long(size)
                    out = suffix
                else:
                    write(record[name], out)
        return bytes(prefix), bytes(suffix)

    @contextmanager
    def _encoding(self) -> Iterator[None]:
        """A value that does not fit the schema becomes a ProtocolError naming the record."""
        try:
            yield
        except KeyError as exc:
            raise ProtocolError(f"{self.name}: field {exc.args[0]!r} is missing") from exc
        except (TypeError, ValueError, AttributeError, UnicodeEncodeError, struct.error) as exc:
            raise ProtocolError(f"{self.name}: cannot encode: {exc}") from exc

    def encode(self, record: dict) -> bytes:
        """Avro binary of `record`; a missing field or a value of the wrong type is a ProtocolError."""
        if not self.own:
            try:
                return self._values.encode(record)
            except ProtocolError as exc:
                raise ProtocolError(f"{self.name}: cannot encode: {exc.message}") from exc
        out = bytearray()
        with self._encoding():
            self._writer(record, out)
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> dict:
        """Read one whole record from Avro binary; anything before or after it is an error."""
        if not self.own:
            return self._values.decode(data)
        source = avro.Source(data)
        record = self.read(source)
        if source.remaining():
            raise ProtocolError(
                f"{self.name}: {source.remaining()} unexpected bytes after the record "
                f"(read {source.pos} of {source.size}): not a {self.name}?"
            )
        return record

    def read(self, source: avro.Source) -> dict:
        """Read one record from a Source (in memory or a stream) and leave it after the record."""
        try:
            return self._reader(source)
        except avro.Truncated as exc:
            size = f" of {source.size} bytes" if source.size is not None else ""
            raise ProtocolError(f"malformed or truncated Avro {self.name}{size}: {exc}") from exc

    def to_json_value(self, record: dict) -> dict:
        """The record in Avro's JSON form: `bytes` become strings of one character per byte.

        Every value is checked against its type, as the binary writer does."""
        return self._json(lambda values: values.write_json(record))

    def from_json_value(self, value: Any) -> dict:
        """Check a parsed JSON value against the schema and turn `bytes` strings back into bytes."""
        return self._json(lambda values: values.read_json(value))

    def _json(self, walk) -> dict:
        """payload.Schema's walk (kjob's one validator), its errors as a ProtocolError: here
        the value is a protocol record, not the user's payload."""
        from kjob.protocol.payload import PayloadMismatch

        try:
            return walk(self._values)
        except PayloadMismatch as exc:
            raise ProtocolError(exc.message) from None


class Endpoint:
    """An endpoint's path with its request and response schemas."""

    def __init__(self, path: str, request: dict, response: dict) -> None:
        self.path = path
        own = path in OWN_ENDPOINTS
        self.request = RecordSchema(request, own)
        self.response = RecordSchema(response, own)


HERE = os.path.dirname(os.path.abspath(__file__))
ENDPOINTS_DIR = os.path.join(HERE, "endpoints")

# The endpoints kjob's client calls itself. Their records (and the wrapper) are read and
# written by kjob's own Avro code (avro.py says why); every other endpoint's by fastavro.
OWN_ENDPOINTS = (
    "/create/job", "/get/job", "/admin/show/jobs", "/admin/alter/jobs", "/show/system/status", "/show/system/properties",
)


def file_name(endpoint: str) -> str:
    """/aggregate/groupby -> aggregate_groupby.json (no endpoint path holds an underscore)."""
    return endpoint.strip("/").replace("/", "_") + ".json"


def _read(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def wrapper() -> RecordSchema:
    """The `gpudb_response` record every endpoint answers with."""
    return RecordSchema(_read(os.path.join(HERE, "gpudb_response.json")), own=True)


@lru_cache(maxsize=1)
def _paths() -> frozenset[str]:
    return frozenset(known_endpoints())


@lru_cache(maxsize=1)
def known_endpoints() -> tuple[str, ...]:
    """Every endpoint of the registry, sorted: the file names, nothing parsed."""
    return tuple(sorted("/" + name[: -len(".json")].replace("_", "/") for name in os.listdir(ENDPOINTS_DIR)))


@cache
def endpoint(path: str) -> Endpoint:
    """The registered endpoint at `path` (its one file parsed); KeyError when kjob has no schema for it."""
    if path not in _paths():
        raise KeyError(path)
    record = _read(os.path.join(ENDPOINTS_DIR, file_name(path)))
    return Endpoint(path, record["request"], record["response"])


def find_endpoint(path: str) -> Endpoint | None:
    """The registered endpoint at `path`, or None."""
    return endpoint(path) if path in _paths() else None


def match_endpoints(pattern: str) -> list[str]:
    """The endpoints a pattern names: a glob (`/show/*`, `show/*`: the leading / is optional)
    or a substring (`records`)."""
    if any(char in pattern for char in "*?["):
        from fnmatch import fnmatchcase

        rooted = pattern if pattern.startswith(("/", "*")) else "/" + pattern
        return [path for path in known_endpoints() if fnmatchcase(path, rooted)]
    return [path for path in known_endpoints() if pattern in path]


def closest_endpoint(path: str) -> str | None:
    """The registered endpoint a mistyped one most likely means, or None; case does not count
    (/EXECUTE/SQL means /execute/sql: every endpoint is lower case)."""
    import difflib

    close = difflib.get_close_matches(path.lower(), known_endpoints(), n=1, cutoff=0.85)
    return close[0] if close else None


def type_text(schema: Any) -> str:
    """An Avro type as one short word: string, array<long>, map<string>, string|null."""
    if isinstance(schema, list):
        return "|".join(type_text(branch) for branch in schema)
    if isinstance(schema, str):
        return schema
    kind = schema["type"]
    if kind == "array":
        return f"array<{type_text(schema['items'])}>"
    if kind == "map":
        return f"map<{type_text(schema['values'])}>"
    return schema.get("name", kind) if kind in ("record", "enum", "fixed") else type_text(kind)


def describe(path: str) -> dict:
    """An endpoint's request and response fields, for `kjob endpoints ENDPOINT` (its --json shape)."""
    found = endpoint(path)

    def fields(schema: dict, request: bool) -> list[dict]:
        described = []
        for field in schema["fields"]:
            entry = {"name": field["name"], "type": type_text(field["type"])}
            if request:
                entry.update({"default": field["default"]} if "default" in field else {"required": True})
            described.append(entry)
        return described

    return {
        "endpoint": path,
        "request": {"name": found.request.name, "fields": fields(found.request.schema, True)},
        "response": {"name": found.response.name, "fields": fields(found.response.schema, False)},
    }
