"""A job's payload and a finished job's response, in any Avro schema (fastavro does the bytes).

A payload arrives as plain JSON (what a user writes: a nullable field is a value or null,
`bytes` a string of one character per byte). `conform` checks it against the schema and names
the first field that does not fit, before anything is encoded or sent.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from kjob.errors import ExitStatus, ProtocolError
from kjob.protocol import avro, encodings, schemas

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
USER, READ, WRITE = "user", "read", "write"  # what a walk checks: see Schema.conform, read_json, write_json


class PayloadMismatch(ProtocolError):
    """A payload that does not fit its schema; the message names the field."""

    exit_code = ExitStatus.USAGE


class Schema:
    """An Avro schema (parsed JSON) with its named types resolved, ready for fastavro."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.named: dict[str, Any] = {}
        self._collect(schema, "")
        self._parsed = None

    @property
    def name(self) -> str:
        return self.schema.get("name", "record") if isinstance(self.schema, dict) else str(self.schema)

    def _collect(self, schema: Any, namespace: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                namespace = schema.get("namespace", namespace)
                name = schema["name"]
                full = name if "." in name or not namespace else f"{namespace}.{name}"
                self.named[full] = schema
                self.named.setdefault(name, schema)
            for field in schema.get("fields", []):
                self._collect(field["type"], namespace)
            for key in ("items", "values"):
                if key in schema:
                    self._collect(schema[key], namespace)
            if isinstance(kind, (dict, list)):
                self._collect(kind, namespace)

    def parsed(self):
        if self._parsed is None:
            import fastavro

            try:
                self._parsed = fastavro.parse_schema(self.schema)
            except Exception as exc:  # fastavro raises SchemaParseException, KeyError, TypeError...
                raise ProtocolError(f"not a valid Avro schema: {exc}") from exc
        return self._parsed

    def resolve(self, schema: Any) -> Any:
        """Follow a reference to a named type."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            try:
                return self.named[schema]
            except KeyError:
                raise ProtocolError(f"schema refers to unknown type {schema!r}") from None
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            return schema["type"]
        if isinstance(schema, dict) and schema.get("type") in PRIMITIVES:
            return schema["type"]
        return schema

    def conform(self, value: Any) -> Any:
        """The plain-JSON `value` a user wrote as fastavro's datum, or PayloadMismatch naming
        the field: unknown fields are refused, defaults filled in, scalars in string maps
        made strings."""
        return self._conform(self.schema, value, "payload", USER)

    def read_json(self, value: Any) -> Any:
        """A record in Avro's JSON form (a server's answer, a JSON request) as a datum:
        checked as conform() does, but every field must be there (no defaults) and fields it
        does not know are left out, not refused."""
        return self._conform(self.schema, value, self.name, READ)

    def write_json(self, value: Any) -> Any:
        """A datum in Avro's JSON form (bytes as one character per byte), checked against
        the schema: every field must be there."""
        return self._conform(self.schema, value, self.name, WRITE)

    def _conform(self, schema: Any, value: Any, path: str, mode: str) -> Any:
        """The one walk that checks a value against its schema, for conform, read_json and write_json."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return self._conform_union(schema, value, path, mode)
        kind = schema if isinstance(schema, str) else schema["type"]
        if kind in ("record", "error"):
            return self._conform_record(schema, value, path, mode)
        if kind == "array":
            if not isinstance(value, (list, tuple) if mode == WRITE else list):
                raise _mismatch(path, "an array", value)
            return [self._conform(schema["items"], item, f"{path}[{i}]", mode) for i, item in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                raise _mismatch(path, "an object (map)", value)
            if mode == USER and _takes_string(self.resolve(schema["values"])):  # options: 1000 and true mean "1000" and "true"
                value = {key: _as_string(item) for key, item in value.items()}
            return {_key(key, path): self._conform(schema["values"], item, f"{path}.{key}", mode) for key, item in value.items()}
        if kind == "enum":
            if value not in schema["symbols"]:
                raise PayloadMismatch(f"{path}: {value!r} is not one of {', '.join(schema['symbols'])}")
            return value
        if kind in ("fixed", "bytes") and mode == WRITE:
            return _bytes_out(value, path)
        if kind == "fixed":
            data = _bytes(value, path)
            if len(data) != schema["size"]:
                raise PayloadMismatch(f"{path}: expected {schema['size']} bytes, got {len(data)}")
            return data
        return _primitive(kind, value, path)

    def _conform_record(self, schema: dict, value: Any, path: str, mode: str) -> dict:
        if not isinstance(value, dict):
            raise _mismatch(path, f"an object ({schema['name']})", value)
        names = [field["name"] for field in schema["fields"]]
        unknown = [key for key in value if key not in names] if mode == USER else []
        if unknown:  # every one in one line, each with its likely meaning
            described = ", ".join(f"{key!r} ({_closest(key, names, schema['name'])})" for key in unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise PayloadMismatch(f"{path}: unknown field{plural} {described}")
        prefix = "" if path == "payload" else f"{path}."
        missing = [field["name"] for field in schema["fields"]
                   if field["name"] not in value and ("default" not in field or mode != USER)]
        if len(missing) == 1:
            raise PayloadMismatch(f"{prefix}{missing[0]}: required field is missing")
        if missing:
            raise PayloadMismatch(f"{', '.join(prefix + name for name in missing)}: required fields are missing")
        record = {}
        for field in schema["fields"]:
            name = field["name"]
            given = value[name] if name in value else field["default"]
            record[name] = self._conform(field["type"], given, prefix + name, mode)
        return record

    def _conform_union(self, branches: list, value: Any, path: str, mode: str) -> Any:
        for branch in branches:
            try:
                return self._conform(branch, value, path, mode)
            except PayloadMismatch:
                continue
        kinds = ", ".join(_kind_name(self.resolve(branch)) for branch in branches)
        raise PayloadMismatch(f"{path}: {_describe(value)} fits none of {kinds}")

    def encode(self, value: Any) -> bytes:
        """Avro binary of a conformed value."""
        import fastavro

        out = io.BytesIO()
        try:
            fastavro.schemaless_writer(out, self.parsed(), value)
        except Exception as exc:  # fastavro raises ValueError, TypeError, OverflowError...
            raise PayloadMismatch(f"payload does not fit {self.name}: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes) -> Any:
        """One value from Avro binary; trailing or missing bytes are a ProtocolError."""
        import fastavro

        stream = io.BytesIO(data)
        try:
            value = fastavro.schemaless_reader(stream, self.parsed())
        except Exception as exc:  # EOFError, UnicodeDecodeError, ValueError, IndexError...
            raise ProtocolError(f"malformed or truncated Avro {self.name} ({len(data)} bytes): {exc!r}") from exc
        if stream.tell() != len(data):
            raise ProtocolError(f"{len(data) - stream.tell()} unexpected bytes after {self.name} ({len(data)} bytes)")
        return value


def _closest(name: str, names: list[str], record: str) -> str:
    """"did you mean 'table_name'?", or the record's name when no field is close."""
    import difflib

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"not in {record}"


def _takes_string(schema: Any) -> bool:
    """Whether a map's values are strings: `string`, or a union with a string branch
    (/update/records new_values_maps: `["string", "null"]`)."""
    return schema == "string" or (isinstance(schema, list) and "string" in schema)


def _as_string(value: Any) -> Any:
    """A scalar given as a value of a string map, as the string Kinetica expects: what every
    user types for `options` ({"batch_size": 1000, "truncate": true}). An integral float is
    its integer's text (1e3: "1000", not "1000.0"), another float its shortest repr. Other
    values (null included) are left for the type check to name."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return value


def _kind_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema.get("name") or schema.get("type", "?"))


def _describe(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _mismatch(path: str, expected: str, value: Any) -> PayloadMismatch:
    return PayloadMismatch(f"{path}: expected {expected}, got {_describe(value)}")


def _key(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise PayloadMismatch(f"{path}: map keys must be strings, got {_describe(key)}")
    return key


def _bytes_out(value: Any, path: str) -> str:
    """Bytes in Avro's JSON form: one character per byte."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _mismatch(path, "bytes", value)
    return bytes(value).decode("latin-1")


def _bytes(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise _mismatch(path, "a bytes string", value)
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise PayloadMismatch(f"{path}: a bytes string may hold only characters U+0000 to U+00FF") from None


def _primitive(kind: str, value: Any, path: str) -> Any:
    if kind == "null":
        if value is not None:
            raise _mismatch(path, "null", value)
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _mismatch(path, "true or false", value)
        return value
    if kind in ("int", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _mismatch(path, f"an integer ({kind})", value)
        low, high = (avro.INT_MIN, avro.INT_MAX) if kind == "int" else (avro.LONG_MIN, avro.LONG_MAX)
        if not low <= value <= high:
            raise PayloadMismatch(f"{path}: {value} is out of range for {kind} ({low} to {high})")
        return value
    if kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _mismatch(path, f"a number ({kind})", value)
        return float(value)
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(path, "a string", value)
        return value
    if kind == "bytes":
        return _bytes(value, path)
    raise ProtocolError(f"schema type {kind!r} is not an Avro type")


def to_json_value(value: Any) -> Any:
    """A decoded Avro value as plain JSON: `bytes` become strings of one character per byte."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    return value


def empty(schema: Any, *, json_form: bool = False) -> Any:
    """The empty value of a schema ("" 0 false [] {}, a union's first branch); `json_form`:
    bytes as a string, as a user writes them."""
    if isinstance(schema, list):
        return empty(schema[0], json_form=json_form)
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(kind, (dict, list)):
        return empty(kind, json_form=json_form)
    if kind == "record":
        return {field["name"]: empty(field["type"], json_form=json_form) for field in schema["fields"]}
    values = {"string": "", "bytes": "" if json_form else b"", "int": 0, "long": 0, "boolean": False, "float": 0.0,
              "double": 0.0, "array": [], "map": {}, "null": None}
    return values[kind]


def skeleton(schema: dict) -> dict:
    """A request with every field: its default, or an empty value of its type where it has none
    (what `submit --skeleton` prints, and `submit --file` accepts as it is)."""
    return {field["name"]: field["default"] if "default" in field else empty(field["type"], json_form=True)
            for field in schema["fields"]}


def encode_payload(schema: Schema | None, value: Any, request_encoding: str) -> tuple[bytes, str]:
    """A job's (`data`, `data_str`) for /create/job: Avro (maybe snappy) in data, or JSON in data_str."""
    return encodings.named(request_encoding).encode_payload(schema, value)


def decode_payload(schema: Schema | None, data: bytes, data_str: str, request_encoding: str) -> Any:
    """A job's payload as submitted, back to a plain value (what a server does)."""
    return encodings.named(request_encoding).decode_payload(schema, data, data_str)


@cache
def request_schema(endpoint: str) -> Schema | None:
    """The registered request schema of `endpoint`, or None."""
    found = schemas.find_endpoint(endpoint)
    return Schema(found.request.schema) if found else None


@cache
def response_schema(endpoint: str) -> Schema | None:
    """The registered response schema of `endpoint`, or None."""
    found = schemas.find_endpoint(endpoint)
    return Schema(found.response.schema) if found else None


def read_job_response(job: dict) -> Any:
    """A DONE job's response, `bytes` fields as bytes: `job_response` decoded (fastavro) with
    the response schema of the job's endpoint, or `job_response_str` parsed (and read with that
    schema when it fits)."""
    endpoint = job["endpoint"]
    found = response_schema(endpoint)
    if not encodings.answered_in(job["response_encoding"]).avro:
        parsed = encodings.parse_json(job["job_response_str"], f"the response of the {endpoint} job")
        try:  # bytes fields back to bytes, where the answer fits the schema; else as the server wrote it
            return found.read_json(parsed) if found is not None else parsed
        except PayloadMismatch:
            return parsed
    if found is None:
        raise ProtocolError(f"kjob has no response schema for {endpoint}; use --raw for the bytes")
    return found.decode(job["job_response"])
