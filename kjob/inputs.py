"""Local input: a payload given inline, in a file or on stdin, and schema files.

Everything here fails with BadInput (exit 2) and a message that names the source and, for
JSON, the line and column; nothing is sent before the input has been read and checked.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import IO, Any

from kjob.errors import BadInput


def stdin_bytes(what: str) -> IO[bytes]:
    """stdin as bytes, or BadInput when the process was started with it closed (`<&-`)."""
    if sys.stdin is None:
        raise BadInput(f"{what}: stdin is closed; give --data JSON or --file PATH")
    return sys.stdin.buffer


def read_source_text(path: str, what: str, stdin: IO[bytes] | None = None) -> str:
    """The whole text of a file, or of stdin for '-', as UTF-8."""
    if path == "-":
        stream = stdin or stdin_bytes(what)
        if _is_terminal(stream):
            raise BadInput(f"{what}: stdin is a terminal with nothing piped in (pipe the {what} or use --file PATH)")
        raw = stream.read()
        where = "stdin"
    else:
        try:
            if stat.S_ISDIR(os.stat(path).st_mode):
                raise BadInput(f"{what}: {path} is a directory, not a file")
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise BadInput(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
        where = path
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what}: {where} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large for a double")
    return value


def parse_json_text(text: str, where: str) -> Any:
    """JSON from text, or BadInput naming the line and column where it breaks.

    Strict JSON: NaN and Infinity (which Python reads, and would send on as invalid JSON), a
    number too large for a double, and an integer of thousands of digits are refused.
    """
    if not text.strip():
        raise BadInput(f"{where} is empty: expected a JSON object")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # from the hooks above, or an integer of more than 4300 digits
        raise BadInput(f"{where} is not valid JSON: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise BadInput(f"{where} is nested too deeply to read") from None


def read_payload(data: str | None, file: str | None, stdin: IO[bytes] | None = None) -> Any:
    """The payload as a JSON value: from --data, --file (or '-'), or piped stdin."""
    if data is not None and file is not None:
        raise BadInput("give the payload once: --data or --file, not both")
    if data is not None:
        try:
            return parse_json_text(data, "--data")
        except BadInput as exc:
            if data.startswith("@") and data[1:].strip():  # curl's @FILE: kjob reads a file with --file
                import shlex

                path = shlex.quote(data[1:])
                raise BadInput(f"{exc.message} (to read the payload from {path}, use --file {path})") from None
            raise
    if file is None:
        if stdin is None and sys.stdin is None:
            raise BadInput("no payload: stdin is closed; give --data JSON or --file PATH")
        stream = stdin or sys.stdin.buffer
        if _is_terminal(stream):
            raise BadInput("no payload: give --data JSON, --file PATH, or pipe it to stdin")
        file = "-"
    text = read_source_text(file, "payload", stdin)
    return parse_json_text(text, "stdin" if file == "-" else file)


def read_schema(path: str) -> Any:
    """An Avro schema from a JSON file."""
    value = parse_json_text(read_source_text(path, "schema"), path)
    if not isinstance(value, (dict, list, str)):
        raise BadInput(f"{path} is not an Avro schema (expected a JSON object)")
    return value


def _is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
