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
    def _fastavro(self):
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
                return self._fastavro.encode(record)
            except ProtocolError as exc:
                raise ProtocolError(f"{self.name}: cannot encode: {exc.message}") from exc
        out = bytearray()
        with self._encoding():
            self._writer(record, out)
        return bytes(out)

    def decode(self, data: bytes | bytearray | memoryview) -> dict:
        """Read one whole record from Avro binary; anything before or after it is an error."""
        if not self.own:
            return self._fastavro.decode(data)
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
        return _to_json(self.schema, record, self.name)

    def from_json_value(self, value: Any) -> dict:
        """Check a parsed JSON value against the schema and turn `bytes` strings back into bytes."""
        return _from_json(self.schema, value, self.name)


def _to_json(schema: Any, value: Any, path: str) -> Any:
    """A record's value in Avro's JSON form: bytes become one character per byte."""
    return _walk(schema, value, path, _bytes_to_json, (list, tuple))


def _from_json(schema: Any, value: Any, path: str) -> Any:
    """A parsed JSON value as the record's value: strings of one character per byte become bytes."""
    return _walk(schema, value, path, _bytes_from_json, (list,))


def _bytes_to_json(value: Any, path: str) -> str:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"{path}: expected bytes, got {type(value).__name__}")
    return bytes(value).decode("latin-1")


def _bytes_from_json(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{path}: expected a bytes string, got {type(value).__name__}")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ProtocolError(f"{path}: a bytes string holds a character above U+00FF") from exc


def _walk(schema: Any, value: Any, path: str, convert_bytes, sequences: tuple[type, ...]) -> Any:
    """Check `value` against `schema` (types, ranges, fields) and convert its bytes one way."""
    if isinstance(schema, list):
        return _walk_union(schema, value, path, convert_bytes, sequences)
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "bytes":
        return convert_bytes(value, path)
    if kind == "record":
        if not isinstance(value, dict):
            raise ProtocolError(f"{path}: expected a record, got {type(value).__name__}")
        missing = [f["name"] for f in schema["fields"] if f["name"] not in value]
        if missing:
            raise ProtocolError(f"{path}: field {missing[0]!r} is missing")
        return {f["name"]: _walk(f["type"], value[f["name"]], f"{path}.{f['name']}", convert_bytes, sequences)
                for f in schema["fields"]}
    if kind == "array":
        if not isinstance(value, sequences):
            raise ProtocolError(f"{path}: expected an array, got {type(value).__name__}")
        return [_walk(schema["items"], item, f"{path}[{i}]", convert_bytes, sequences) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise ProtocolError(f"{path}: expected a map, got {type(value).__name__}")
        return {_check_key(key, path): _walk(schema["values"], item, f"{path}.{key}", convert_bytes, sequences)
                for key, item in value.items()}
    return _check_primitive(kind, value, path)


def _walk_union(branches: list, value: Any, path: str, convert_bytes, sequences: tuple[type, ...]) -> Any:
    """The first branch the value fits: Kinetica's unions are ["string", "null"] and the like."""
    for branch in branches:
        try:
            return _walk(branch, value, path, convert_bytes, sequences)
        except ProtocolError:
            continue
    kinds = ", ".join(b if isinstance(b, str) else str(b.get("type")) for b in branches)
    raise ProtocolError(f"{path}: a {type(value).__name__} fits none of {kinds}")


def _check_key(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise ProtocolError(f"{path}: map keys must be strings, got {type(key).__name__}")
    return key


_RANGES = {"int": (avro.INT_MIN, avro.INT_MAX), "long": (avro.LONG_MIN, avro.LONG_MAX)}


def _check_primitive(kind: str, value: Any, path: str) -> Any:
    """A JSON-form primitive of the right type (and, for int and long, range)."""
    expected = _JSON_TYPES.get(kind)
    if expected is None:
        raise ProtocolError(f"{path}: schema type {kind!r} is not one of kjob's protocol types")
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        raise ProtocolError(f"{path}: expected {kind}, got {type(value).__name__}")
    if kind in _RANGES and not _RANGES[kind][0] <= value <= _RANGES[kind][1]:
        raise ProtocolError(f"{path}: {value} is out of range for {kind}")
    return value


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "int": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "null": (type(None),),
}


class Endpoint:
    """An endpoint's path with its request and response schemas."""

    def __init__(self, path: str, request: dict, response: dict) -> None:
        self.path = path
        own = path in OWN_ENDPOINTS
        self.request = RecordSchema(request, own)
        self.response = RecordSchema(response, own)


HERE = os.path.dirname(__file__)
ENDPOINTS_DIR = os.path.join(HERE, "endpoints")

# The endpoints kjob's client calls itself. Their records (and the wrapper) are read and
# written by kjob's own Avro code (avro.py says why); every other endpoint's by fastavro.
OWN_ENDPOINTS = (
    "/create/job", "/get/job", "/admin/show/jobs", "/admin/alter/jobs", "/show/system/status", "/show/system/properties",
)


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
    record = _read(os.path.join(ENDPOINTS_DIR, path.strip("/").replace("/", "_") + ".json"))
    return Endpoint(path, record["request"], record["response"])


def find_endpoint(path: str) -> Endpoint | None:
    """The registered endpoint at `path`, or None."""
    return endpoint(path) if path in _paths() else None


def match_endpoints(pattern: str) -> list[str]:
    """The endpoints a pattern names: a glob (`/show/*`) or a substring (`records`)."""
    if any(char in pattern for char in "*?["):
        from fnmatch import fnmatchcase

        return [path for path in known_endpoints() if fnmatchcase(path, pattern)]
    return [path for path in known_endpoints() if pattern in path]


def closest_endpoint(path: str) -> str | None:
    """The registered endpoint a mistyped one most likely means, or None."""
    import difflib

    close = difflib.get_close_matches(path, known_endpoints(), n=1, cutoff=0.85)
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
