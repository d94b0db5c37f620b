"""Where a finished job's response goes: decoded or raw, to stdout or (atomically) to a file."""

from __future__ import annotations

import io
import sys
from typing import IO, Callable

from kjob.errors import BadInput
from kjob.files import atomic_output
from kjob.jobs import JobState
from kjob.protocol import payload, records
from kjob.render import Renderer, colour_allowed, write_response, write_rows

SQL_ONLY_FORMATS = ("csv", "table")


def raw_bytes(state: JobState) -> bytes:
    """The response as the server sent it: Avro binary, or the JSON text as UTF-8."""
    return state.job_response_str.encode("utf-8") if state.response_encoding == "json" else state.job_response


def write_result(render: Renderer, state: JobState, *, raw: bool, output: str | None, fmt: str | None) -> None:
    if raw:
        return _write_bytes(raw_bytes(state), output, binary=state.response_encoding != "json")
    fmt = fmt or "json"
    is_sql = state.endpoint == "/execute/sql"
    if fmt in SQL_ONLY_FORMATS and not is_sql:
        raise BadInput(f"--format {fmt} is for /execute/sql rows; this job ran {state.endpoint}")
    value = payload.decode_job_response(state._asdict())
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


def _write_bytes(data: bytes, output: str | None, *, binary: bool) -> None:
    if output is not None:
        with atomic_output(output) as handle:
            handle.write(data)
        return
    if binary and sys.stdout.isatty():
        raise BadInput("--raw would write Avro binary to the terminal: add -o FILE or pipe it")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
