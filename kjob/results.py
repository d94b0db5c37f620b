"""Where a finished job's response goes: decoded or raw, to stdout or (atomically) to a file.

The response arrives through a sink while /get/job is read from the socket: raw bytes go
straight to their file in chunks; a response to decode is gathered into one buffer of its
exact size and decoded from there, so a response of N bytes costs about 2 N at most.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import IO

from kjob.errors import BadInput, KjobError
from kjob.files import atomic_output
from kjob.jobs import JobState
from kjob.protocol import payload, records
from kjob.render import colour_allowed, write_response, write_rows

SQL_ONLY_FORMATS = ("csv", "table")


class BufferSink:
    """Gathers a response into one buffer allocated at its exact size."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.filled = 0

    def begin(self, size: int) -> None:
        self.buffer = bytearray(size)
        self.filled = 0

    def write(self, chunk: bytes) -> None:
        self.buffer[self.filled : self.filled + len(chunk)] = chunk
        self.filled += len(chunk)


class FileSink:
    """Writes a response to an open binary file; a retry starts the file again (a FIFO or a
    device, which cannot be taken back, only while nothing has gone to it)."""

    def __init__(self, handle: IO[bytes]) -> None:
        import os
        import stat

        self.handle = handle
        self.written = 0
        self.regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)

    def begin(self, size: int) -> None:
        if self.regular:
            self.handle.seek(0)
            self.handle.truncate()
        elif self.written:
            raise KjobError(f"the answer broke off after {self.written} bytes went out (a FIFO or a device cannot take them back)")

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)
        self.written += len(chunk)


class StdoutSink:
    """Writes a response to stdout as it arrives; what is written cannot be taken back."""

    def __init__(self) -> None:
        self.written = 0

    def begin(self, size: int) -> None:
        if self.written:
            raise KjobError(f"the answer broke off after {self.written} bytes went to stdout; use -o FILE to get it whole")
        if sys.stdout.isatty():
            raise BadInput("--raw would write Avro binary to the terminal: add -o FILE or pipe it")

    def write(self, chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)
        self.written += len(chunk)


def check_format(raw: bool, fmt: str | None) -> None:
    """Options that cannot go together, refused before anything is sent."""
    if raw and fmt:
        raise BadInput("--raw writes the response's bytes; --format does not apply")


def fetch(app, ref, *, raw: bool, output: str | None, fmt: str | None) -> None:
    """Get a DONE job's response and write it as asked (anything else raises its error)."""
    from kjob.app import finished_job

    if raw and output is not None:
        with atomic_output(output) as handle:
            state = finished_job(app, ref, FileSink(handle))
            if state.response_encoding == "json":
                handle.write(state.job_response_str.encode("utf-8"))
        return
    if raw:
        state = finished_job(app, ref, StdoutSink())
        if state.response_encoding == "json":
            sys.stdout.buffer.write(state.job_response_str.encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    sink = BufferSink()
    state = finished_job(app, ref, sink)
    write_decoded(state, sink, output, fmt)


def write_decoded(state: JobState, sink: BufferSink, output: str | None, fmt: str | None) -> None:
    fmt = fmt or "json"
    is_sql = state.endpoint == "/execute/sql"
    if fmt in SQL_ONLY_FORMATS and not is_sql:
        raise BadInput(f"--format {fmt} is for /execute/sql rows; this job ran {state.endpoint}")
    job = {**state._asdict(), "job_response": memoryview(sink.buffer)}
    value = payload.decode_job_response(job)
    del job
    sink.buffer = bytearray()  # the bytes are decoded: let them go before the output is written
    if is_sql and fmt != "response":
        headers, rows = records.sql_rows(value)
        rows = [payload.to_json_value(row) for row in rows]
        return _write_text(output, lambda stream, pretty, colour: write_rows(stream, fmt, headers, rows, pretty=pretty, colour=colour))
    one_line = fmt == "jsonl"
    return _write_text(output, lambda stream, pretty, colour: write_response(stream, value, pretty=pretty and not one_line))


def _write_text(output: str | None, write: Callable[[IO[str], bool, bool], None]) -> None:
    """Pretty and coloured on a terminal; compact and plain to a pipe or a file."""
    if output is None:
        terminal = sys.stdout.isatty()
        write(sys.stdout, terminal, terminal and colour_allowed(sys.stdout))
        sys.stdout.flush()
        return
    with atomic_output(output) as handle:
        stream = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        write(stream, False, False)
        stream.flush()
        stream.detach()
