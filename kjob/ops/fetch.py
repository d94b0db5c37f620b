"""kjob fetch: a finished job's response, decoded or raw, to stdout or (atomically) to a file.

The response arrives through a sink while /get/job is read from the socket: raw bytes go
straight to their file in chunks; a response to decode is gathered into one buffer of its
exact size and decoded from there, so a response of N bytes costs about 2 N at most.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from kjob.errors import BadInput, KjobError, NotFinished, PartialResult
from kjob.files import atomic_output
from kjob.model import JobRef, JobState, error_for
from kjob.ops.context import App
from kjob.output.rows import RowStream, write_response, write_rows
from kjob.protocol import encodings, payload, records

ROWS_ONLY_FORMATS = ("csv", "table")


@dataclass(frozen=True)
class Destination:
    """Where the response goes: FILE (-o), or stdout with what the click layer knows of it."""

    output: str | None
    stdout: IO[str]
    stdout_terminal: bool  # pretty on a terminal, compact to a pipe; --raw refuses a terminal
    colour: bool


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

    def __init__(self, where: Destination) -> None:
        self.where = where
        self.written = 0

    def begin(self, size: int) -> None:
        if self.written:
            raise KjobError(f"the answer broke off after {self.written} bytes went to stdout; use -o FILE to get it whole")
        if self.where.stdout_terminal:
            raise BadInput("--raw would write Avro binary to the terminal: add -o FILE or pipe it")

    def write(self, chunk: bytes) -> None:
        self.where.stdout.buffer.write(chunk)
        self.written += len(chunk)


def check_format(raw: bool, fmt: str | None, every: bool = False) -> None:
    """Options that cannot go together, refused before anything is sent."""
    if raw and fmt:
        raise BadInput("--raw writes the response's bytes; --format does not apply")
    if every and raw:
        raise BadInput("--all streams every row of a result as text; --raw writes the response's bytes")
    if every and (fmt or "json") not in RowStream.FORMATS:
        raise BadInput(f"--all streams every row of a result: use --format json, jsonl or csv (not {fmt})")


def fetch(app: App, ref: JobRef, where: Destination, *, raw: bool, fmt: str | None, every: bool = False) -> None:
    """Get a DONE job's response and write it as asked (anything else raises its error)."""
    if raw and where.output is not None:
        with atomic_output(where.output) as handle:
            write_raw(app, ref, FileSink(handle), handle)
        return
    if raw:
        write_raw(app, ref, StdoutSink(where), where.stdout.buffer)
        where.stdout.buffer.flush()
        return
    sink = BufferSink()
    state = finished_job(app, ref, sink)
    write_decoded(state, sink, where, fmt, app if every else None, note=app.render.message)


def write_raw(app: App, ref: JobRef, sink, handle) -> None:
    """--raw: the response's bytes as the server sent them; an Avro one streams into `sink`, a
    JSON one (`job_response_str`) is written to `handle` once the job is read."""
    state = finished_job(app, ref, sink)
    if not encodings.answered_in(state.response_encoding).avro:
        handle.write(state.job_response_str.encode("utf-8"))


def finished_job(app: App, ref: JobRef, sink=None) -> JobState:
    """The job, DONE, its response given to `sink`; a job that ended badly raises its error,
    one still running NotFinished."""
    state = app.client().get_job(ref, sink)
    problem = error_for(state)
    if problem is not None:
        raise problem
    if not state.finished:
        raise NotFinished(f"job {ref} is still {state.job_status} ({state.progress}%): add --wait to wait for it")
    return state


def write_decoded(state: JobState, sink: BufferSink, where: Destination, fmt: str | None, pager: App | None = None,
                  note: Callable[[str], None] | None = None) -> None:
    """Rows (json, jsonl, csv, table) for a dynamic-schema response, else (and for --format
    response) the whole response; bytes fields as base64 text. A result the server cut is said
    on stderr (PartialResult, once the rows are written), or, given `pager` (the app: fetch
    --all), completed from its paging table. A result with no columns (INSERT, UPDATE, DELETE)
    is shown whole, as json, so that its count_affected is seen; csv and table `note` it."""
    fmt = fmt or "json"
    schema = payload.response_schema(state.endpoint)
    has_rows = schema is not None and records.carries_rows(schema.schema)
    if fmt in ROWS_ONLY_FORMATS and not has_rows:
        raise BadInput(f"--format {fmt} is for responses with rows (such as /execute/sql); {state.endpoint} has none")
    data = bytes(sink.buffer)  # fastavro reads from a BytesIO, which shares bytes but copies a bytearray
    sink.buffer = bytearray()  # let the gathered copy go before decoding: about 2 N in all
    value = payload.read_job_response({**state._asdict(), "job_response": data})
    del data
    if has_rows and fmt != "response":
        headers, rows = records.rows_of(value)
        if not headers and fmt in ("json", "jsonl"):  # a statement with no result set: its count is the answer
            return _write_text(where, lambda stream, pretty, colour: write_response(
                stream, printable(value), pretty=pretty and fmt == "json"))
        if not headers and note is not None:
            note(f"kjob: the result has no rows; {value.get('count_affected', 0)} affected "
                 "(count_affected; --format json shows the whole response)")
        rows = [printable(row) for row in rows]
        more = bool(value.get("has_more_records"))
        if more and pager is not None and value.get("paging_table"):
            return _write_text(where, lambda stream, pretty, colour: _write_all_pages(pager, value, headers, rows, stream, fmt, pretty))
        _write_text(where, lambda stream, pretty, colour: write_rows(stream, fmt, headers, rows, pretty=pretty, colour=colour))
        if more:
            table = value.get("paging_table") or ""
            rest = f"`fetch --all` reads the rest from paging table {table}" if table else "the server named no paging table"
            raise PartialResult(f"partial result: {len(rows)} of {value.get('total_number_of_records')} rows "
                                f"(the server's max_get_records_size or the statement's limit); {rest}")
        return None
    value = printable(value)
    one_line = fmt == "jsonl"
    return _write_text(where, lambda stream, pretty, colour: write_response(stream, value, pretty=pretty and not one_line))


def printable(value: Any) -> Any:
    """A decoded value as JSON to show: `bytes` as base64 text, never raw binary characters."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable(item) for item in value]
    return value


def _write_all_pages(app: App, value: dict, headers: list[str], first: list[dict], stream: IO[str], fmt: str, pretty: bool) -> None:
    """The whole result the paging table holds, read from its first row with
    /get/records/bycolumn a page at a time: each page is decoded, written and let go, so memory
    stays flat whatever the row count. The first page is not written from the response: the
    paging table holds the result from its first row, and the statement's own `offset` (which
    kjob cannot know) may have put the first page anywhere in it."""
    rows_out = RowStream(stream, fmt, headers, pretty=pretty)
    table, total, size = value["paging_table"], value["total_number_of_records"], max(1, len(first))  # pages as big as the first
    encoding = encodings.named(app.settings.wire).answers.name
    offset = 0
    while offset < total:
        record = {"table_name": table, "column_names": headers, "offset": offset, "limit": size, "encoding": encoding, "options": {}}
        answer, _ = app.client().call("/get/records/bycolumn", record)
        _, page = records.rows_of(answer)
        if not page:
            raise PartialResult(f"partial result: paging table {table} ended after {offset} of {total} rows")
        rows_out.write([printable(row) for row in page])
        offset += len(page)
        if not answer["has_more_records"]:
            break
    rows_out.close()


def _write_text(where: Destination, write: Callable[[IO[str], bool, bool], None]) -> None:
    """Pretty and coloured on a terminal; compact and plain to a pipe or a file."""
    if where.output is None:
        write(where.stdout, where.stdout_terminal, where.stdout_terminal and where.colour)
        where.stdout.flush()
        return
    with atomic_output(where.output) as handle:
        stream = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        write(stream, False, False)
        stream.flush()
        stream.detach()
