"""The three client encodings as objects; a new encoding touches this module only. No HTTP here.

binary: the request is the Avro binary of the endpoint's request record.
json:   the request is the record as JSON, fields in schema order, `bytes` as one character
        per byte (what the official client sends; we do not escape non-ASCII, see json_bytes).
snappy: the Avro binary, snappy-compressed (raw snappy, one call).
Answers are the `gpudb_response` wrapper: Avro binary for binary and snappy (never
compressed), JSON for json (PROTOCOL.md, Transport). Elsewhere an encoding travels by its
name (an option, a Settings field, a record's `request_encoding`); what it does is asked of
its object here, never decided by comparing the name.
"""

from __future__ import annotations

from typing import Any

from kjob.errors import ProtocolError


def json_bytes(value: Any, *, ascii_only: bool = False) -> bytes:
    """JSON text as UTF-8, encoded once.

    Requests: the official client uses json.dumps' defaults; we keep its separators (so bodies
    of characters below U+007F are byte-identical) but not ensure_ascii, which turns each byte
    0x80-0xFF of a `bytes` field into a six-character escape. Responses (the emulator's) are
    `ascii_only`, escaped as Kinetica's are: the official client reads them as latin-1.
    """
    import json  # here, not at the top: `kjob --help` reads this module's names only

    try:
        return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError(f"cannot encode as JSON: a string holds a lone surrogate ({exc.reason})") from exc


def parse_json(text: str | bytes, what: str) -> Any:
    """json.loads with a ProtocolError that says what was being read and where it broke."""
    import json

    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise ProtocolError(f"{what} is not valid JSON ({len(text)} bytes): {exc}") from exc
    except RecursionError:
        raise ProtocolError(f"{what} is nested too deeply to read ({len(text)} bytes)") from None


def snappy_decompress(data: bytes) -> bytes:
    import snappy

    try:
        return snappy.decompress(data)
    except Exception as exc:  # snappy raises its own and cramjam's error types
        raise ProtocolError(f"body is not valid snappy ({len(data)} bytes): {exc}") from exc


class Encoding:
    """An encoding; this one is Avro binary (requests, answers and job payloads as Avro), and
    the others override what they do otherwise."""

    name = "binary"
    content_type = "application/octet-stream"
    avro = True  # records and payloads are Avro (a payload needs its schema)
    streams = True  # Avro as it is: a payload streams in and out (from its file) without a whole copy

    def __str__(self) -> str:
        return self.name

    @property
    def answers(self) -> Encoding:
        """The encoding of the answers to requests in this one."""
        return BINARY

    @property
    def answer_types(self) -> frozenset[str]:
        """The Content-Types an answer to a request in this encoding may come with."""
        return frozenset({self.answers.content_type})

    def compress(self, data: bytes) -> bytes:
        """An Avro body (or payload) as this encoding sends it."""
        return data

    def compress_view(self, data: bytes | memoryview) -> bytes | memoryview:
        """compress(), without a copy of a large result."""
        return data

    def decompress(self, data: bytes) -> bytes:
        return data

    def encode_record(self, schema, record: dict) -> bytes:
        """A record (schemas.RecordSchema) as a request body."""
        return self.compress(schema.encode(record))

    def decode_record(self, schema, body: bytes) -> dict:
        """A request body as a record (what a server does)."""
        return schema.decode(self.decompress(body))

    def encode_answer(self, schema, wrapped: dict) -> bytes:
        """A `gpudb_response` wrapper (its schema given) as an answer body."""
        return schema.encode(wrapped)

    def decode_answer(self, schema, body: bytes) -> dict:
        """An answer body as the `gpudb_response` wrapper, `data_str` kept as sent."""
        return schema.decode(body)

    def answer_data(self, schema, record: dict) -> tuple[bytes, str]:
        """An endpoint's response record as the wrapper's (`data`, `data_str`)."""
        return schema.encode(record), ""

    def encode_payload(self, schema, value: Any) -> tuple[bytes, str]:
        """A job's (`data`, `data_str`) for /create/job (schema: a payload.Schema, or None)."""
        if schema is None:
            raise ProtocolError("an Avro payload needs the endpoint's request schema")
        return self.compress(schema.encode(schema.conform(value))), ""

    def decode_payload(self, schema, data: bytes, data_str: str) -> Any:
        """A job's payload as submitted, back to a plain value (what a server does)."""
        if schema is None:
            raise ProtocolError("an Avro payload needs the endpoint's request schema")
        return schema.decode(self.decompress(data))


class Snappy(Encoding):
    """Avro binary, snappy-compressed; answers are plain Avro binary."""

    name = "snappy"
    content_type = "application/x-snappy"
    streams = False  # compressed whole, in one call

    @property
    def answer_types(self) -> frozenset[str]:
        # The answer's Content-Type is not documented (PROTOCOL.md, evidence review).
        return frozenset({self.answers.content_type, self.content_type})

    def compress(self, data: bytes) -> bytes:
        """Raw snappy, as the official client sends it."""
        import snappy

        return snappy.compress(data)

    def compress_view(self, data: bytes | memoryview) -> memoryview:
        """Raw snappy in one call, kept in the compressor's own buffer: python-snappy's compress()
        copies that buffer into bytes, which for a large payload is one more copy of it. cramjam is
        python-snappy's engine (a dependency of python-snappy 0.7)."""
        import cramjam

        return memoryview(cramjam.snappy.compress_raw(data))

    def decompress(self, data: bytes) -> bytes:
        return snappy_decompress(data)


class Json(Encoding):
    """JSON requests and answers; a job's payload goes as JSON text in `data_str`."""

    name = "json"
    content_type = "application/json"
    avro = False
    streams = False

    @property
    def answers(self) -> Encoding:
        return JSON

    def encode_record(self, schema, record: dict) -> bytes:
        return json_bytes(schema.to_json_value(record))

    def decode_record(self, schema, body: bytes) -> dict:
        return schema.from_json_value(parse_json(body, schema.name))

    def encode_answer(self, schema, wrapped: dict) -> bytes:
        return json_bytes(schema.to_json_value(wrapped), ascii_only=True)

    def decode_answer(self, schema, body: bytes) -> dict:
        """`data_str` may be a string holding JSON or an embedded JSON object (PROTOCOL.md)."""
        value = parse_json(body, "gpudb_response")
        if isinstance(value, dict) and isinstance(value.get("data_str"), (dict, list)):
            embedded = value["data_str"]
            wrapped = schema.from_json_value({**value, "data_str": ""})
            wrapped["data_str"] = embedded
            return wrapped
        return schema.from_json_value(value)

    def answer_data(self, schema, record: dict) -> tuple[bytes, str]:
        import json

        return b"", json.dumps(schema.to_json_value(record))

    def encode_payload(self, schema, value: Any) -> tuple[bytes, str]:
        if schema is not None:
            from kjob.protocol.payload import to_json_value  # payload imports this module

            value = to_json_value(schema.conform(value))
        import json

        return b"", json.dumps(value, ensure_ascii=False)

    def decode_payload(self, schema, data: bytes, data_str: str) -> Any:
        return parse_json(data_str, "the job payload (data_str)")


BINARY, JSON, SNAPPY = Encoding(), Json(), Snappy()
ENCODINGS: dict[str, Encoding] = {encoding.name: encoding for encoding in (BINARY, JSON, SNAPPY)}
NAMES = tuple(ENCODINGS)


def named(name: str) -> Encoding:
    """The encoding of a name kjob gave (an option's choice, a setting)."""
    return ENCODINGS[name]


def answered_in(name: str) -> Encoding:
    """The encoding of a server's `response_encoding` / `encoding` field: JSON for 'json', Avro
    binary for anything else (as gpudb reads it)."""
    return ENCODINGS.get(name, BINARY).answers


def of_content_type(content_type: str) -> Encoding:
    """The encoding of a request's Content-Type (what a server does): binary unless JSON or snappy."""
    return next((encoding for encoding in (JSON, SNAPPY) if encoding.content_type == content_type), BINARY)
