"""Avro binary for the few records kjob's client exchanges itself, without fastavro.

Every other Avro value (a job's payload and response of any of the 221 endpoints, the rows of
a dynamic-schema response, a user's --schema) goes through fastavro (payload.py). This module
is kept for two jobs fastavro cannot do:
- `kjob status` must stay fast, and importing fastavro costs about 65 ms (measured: median of
  7 runs of `python -X importtime -c "import fastavro"`, 66 ms cumulative; the same wall-clock
  difference against an empty `python -c pass`): a quarter more on a `kjob status` that takes
  about 0.26 s of CPU in `make bench` (whose target is 1.3 times `import requests`, now 1.26).
  So the records of kjob's own calls (the `gpudb_response` wrapper and
  schemas.OWN_ENDPOINTS: /create/job, /get/job, /admin/show/jobs, /admin/alter/jobs,
  /show/system/status, /show/system/properties) are read and written here;
- a /get/job answer is read field by field from the socket (StreamSource), so that a large
  `job_response` is copied to its file in chunks and never held: fastavro's readers take
  whole records only.
These records use a small subset of Avro (primitives, records, arrays, maps), compiled once
per schema into closures; the property tests hold this module byte for byte to fastavro.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, BinaryIO

from kjob.errors import ProtocolError

Reader = Callable[["Source"], Any]
Writer = Callable[[Any, bytearray], None]

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


class Truncated(Exception):
    """The bytes ended inside a value; callers turn it into a ProtocolError with context."""


class Source:
    """Bytes read in order from memory, with the position kept for error messages."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def _take(self, size: int) -> memoryview:
        end = self.pos + size
        if size < 0:
            raise Truncated(f"a negative length {size} at offset {self.pos}")
        if end > len(self.view):
            raise Truncated(f"needed {size} bytes at offset {self.pos}, only {len(self.view) - self.pos} left")
        taken = self.view[self.pos : end]
        self.pos = end
        return taken

    def read(self, size: int) -> bytes:
        return self._take(size).tobytes()

    def read_text(self, size: int) -> str:
        """`size` bytes of UTF-8, decoded straight from memory (no intermediate copy)."""
        return str(self._take(size), "utf-8")

    def read_byte(self) -> int:
        if self.pos >= len(self.view):
            raise Truncated(f"needed 1 byte at offset {self.pos}, none left")
        byte = self.view[self.pos]
        self.pos += 1
        return byte

    def remaining(self) -> int:
        return len(self.view) - self.pos

    def room(self) -> int:
        """The most bytes a length or a count read here can truthfully claim."""
        return len(self.view) - self.pos

    @property
    def size(self) -> int | None:
        return len(self.view)


def machine_memory() -> int:
    """This machine's memory in bytes: more than any length a stream of unknown size can mean."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


STREAM_STEP = 1 << 20  # the most a stream is asked for at once


class StreamSource(Source):
    """Bytes read in order from a binary file or socket stream, never held whole; `length`,
    when the stream's size is known (a Content-Length), bounds every length claimed inside."""

    def __init__(self, stream: BinaryIO, length: int | None = None) -> None:
        self.stream = stream
        self.pos = 0
        self.length = length

    def read(self, size: int) -> bytes:
        if size < 0:
            raise Truncated(f"a negative length {size} at offset {self.pos}")
        if size > self.room():
            raise Truncated(f"needed {size} bytes at offset {self.pos}, more than the answer can hold ({self.room()})")
        chunk = self.stream.read(min(size, STREAM_STEP))  # a claimed size is not allocated before its bytes come
        if len(chunk) < size:
            chunks, got = [chunk], len(chunk)
            while got < size:
                more = self.stream.read(min(size - got, STREAM_STEP))
                if not more:
                    raise Truncated(f"needed {size} bytes at offset {self.pos}, the stream ended after {got}")
                chunks.append(more)
                got += len(more)
            chunk = b"".join(chunks)
        self.pos += size
        return chunk

    def read_byte(self) -> int:
        return self.read(1)[0]

    def read_text(self, size: int) -> str:
        return self.read(size).decode("utf-8")

    def remaining(self) -> int:
        return 0 if self.length is None else self.length - self.pos

    def room(self) -> int:
        return machine_memory() if self.length is None else self.length - self.pos

    @property
    def size(self) -> int | None:
        return self.length


def read_long(src: Source) -> int:
    """Read one zig-zag varint (Avro int and long)."""
    result = shift = 0
    while True:
        byte = src.read_byte()
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            value = (result >> 1) ^ -(result & 1)
            if not LONG_MIN <= value <= LONG_MAX:
                raise Truncated(f"a varint outside the 64-bit range before offset {src.pos}")
            return value
        shift += 7
        if shift > 63:
            raise Truncated(f"a varint longer than 10 bytes at offset {src.pos}")


def encode_long(value: int) -> bytes:
    """Encode one Avro long as a zig-zag varint."""
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError(f"{value} does not fit in an Avro long")
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_block_count(src: Source) -> int:
    count = read_long(src)
    if count < 0:
        read_long(src)  # a negative count is followed by the block's size in bytes
        count = -count
    if count > src.room():  # every item of kjob's protocol records takes a byte at least
        raise Truncated(f"a block of {count} items at offset {src.pos}, more than the {src.room()} bytes left")
    return count


def _read_int(src: Source) -> int:
    value = read_long(src)
    if not INT_MIN <= value <= INT_MAX:
        raise Truncated(f"int out of range at offset {src.pos}")
    return value


def _read_boolean(src: Source) -> bool:
    byte = src.read_byte()
    if byte > 1:
        raise Truncated(f"boolean byte {byte} at offset {src.pos - 1}")
    return byte == 1


def read_length(src: Source) -> int:
    """A length of bytes to come, checked against what the source can still hold before anything is allocated."""
    size = read_long(src)
    if size < 0:
        raise Truncated(f"negative length {size} at offset {src.pos}")
    if size > src.room():
        raise Truncated(f"a length of {size} bytes at offset {src.pos}, more than the {src.room()} bytes left")
    return size


def _read_bytes(src: Source) -> bytes:
    return src.read(read_length(src))


def _read_string(src: Source) -> str:
    size = read_length(src)
    try:
        return src.read_text(size)
    except UnicodeDecodeError as exc:
        raise Truncated(f"a string that is not UTF-8 before offset {src.pos}") from exc


def _write_long(value: int, out: bytearray) -> None:
    out += encode_long(value)


def _write_int(value: int, out: bytearray) -> None:
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"{value} does not fit in an Avro int")
    out += encode_long(value)


def _write_boolean(value: bool, out: bytearray) -> None:
    out.append(1 if value else 0)


def _write_bytes(value: bytes, out: bytearray) -> None:
    out += encode_long(len(value))
    out += value


def _write_string(value: str, out: bytearray) -> None:
    _write_bytes(value.encode("utf-8"), out)


_PRIMITIVE_READERS: dict[str, Reader] = {
    "null": lambda src: None,
    "boolean": _read_boolean,
    "int": _read_int,
    "long": read_long,
    "float": lambda src: struct.unpack("<f", src.read(4))[0],
    "double": lambda src: struct.unpack("<d", src.read(8))[0],
    "bytes": _read_bytes,
    "string": _read_string,
}

_PRIMITIVE_WRITERS: dict[str, Writer] = {
    "null": lambda value, out: None,
    "boolean": _write_boolean,
    "int": _write_int,
    "long": _write_long,
    "float": lambda value, out: out.extend(struct.pack("<f", value)),
    "double": lambda value, out: out.extend(struct.pack("<d", value)),
    "bytes": _write_bytes,
    "string": _write_string,
}


def _type_name(schema: Any) -> str:
    return schema if isinstance(schema, str) else schema["type"]


def read_string(src: Source) -> str:
    """One Avro string."""
    return _read_string(src)


def compile_reader(schema: Any) -> Reader:
    """Turn a schema (parsed JSON) into a function that reads one value from a Source."""
    kind = _type_name(schema)
    if kind in _PRIMITIVE_READERS:
        return _PRIMITIVE_READERS[kind]
    if kind == "record":
        fields = [(field["name"], compile_reader(field["type"])) for field in schema["fields"]]
        return lambda src: {name: read(src) for name, read in fields}
    if kind == "array":
        read_item = compile_reader(schema["items"])

        def read_array(src: Source) -> list:
            items = []
            while count := _read_block_count(src):
                items.extend(read_item(src) for _ in range(count))
            return items

        return read_array
    if kind == "map":
        read_value = compile_reader(schema["values"])

        def read_map(src: Source) -> dict:
            entries = {}
            while count := _read_block_count(src):
                for _ in range(count):
                    key = _read_string(src)
                    entries[key] = read_value(src)
            return entries

        return read_map
    raise ProtocolError(f"schema type {kind!r} is not one of kjob's protocol types")


def compile_writer(schema: Any) -> Writer:
    """Turn a schema (parsed JSON) into a function that appends one value to a bytearray."""
    kind = _type_name(schema)
    if kind in _PRIMITIVE_WRITERS:
        return _PRIMITIVE_WRITERS[kind]
    if kind == "record":
        fields = [(field["name"], compile_writer(field["type"])) for field in schema["fields"]]

        def write_record(value: dict, out: bytearray) -> None:
            for name, write in fields:
                write(value[name], out)

        return write_record
    if kind == "array":
        write_item = compile_writer(schema["items"])

        def write_array(value: list, out: bytearray) -> None:
            if value:
                out += encode_long(len(value))
                for item in value:
                    write_item(item, out)
            out.append(0)

        return write_array
    if kind == "map":
        write_value = compile_writer(schema["values"])

        def write_map(value: dict, out: bytearray) -> None:
            if value:
                out += encode_long(len(value))
                for key, item in value.items():
                    _write_string(key, out)
                    write_value(item, out)
            out.append(0)

        return write_map
    raise ProtocolError(f"schema type {kind!r} is not one of kjob's protocol types")
