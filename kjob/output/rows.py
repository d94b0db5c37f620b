"""JSON, CSV and tables on stdout or in a file: one value, a fetched response, SQL rows.

Streamed: a huge string is written in slices, rows page by page, never held twice as text.
"""

from __future__ import annotations

import json
from typing import IO, Any

from kjob.sanitize import json_visible, visible


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON that a terminal shows as it is (kjob.sanitize.json_visible): one compact line, or
    indented (its line breaks are kjob's own, every string's control characters escaped)."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json_visible(json.dumps(value, ensure_ascii=False, indent=indent, separators=separators))


BIG_STRING = 1 << 20  # strings longer than this are written in slices, never escaped whole


def write_response(stream: IO[str], value: Any, *, pretty: bool) -> None:
    """A decoded response as JSON: indented for a person, one line for a program.

    Written piece by piece, so that a huge string (a padded or binary response) is never held
    twice more as its JSON text and again as UTF-8.
    """
    write_json(stream, value, 2 if pretty else None, 0)
    stream.write("\n")


def write_json(stream: IO[str], value: Any, indent: int | None, level: int) -> None:
    """The same text as json.dumps(value, indent=indent) (compact separators without indent)."""
    if isinstance(value, str) and len(value) > BIG_STRING:
        stream.write('"')
        for start in range(0, len(value), BIG_STRING):
            stream.write(json_visible(json.dumps(value[start : start + BIG_STRING], ensure_ascii=False)[1:-1]))
        stream.write('"')
        return
    if not isinstance(value, (dict, list)) or not value or _flat(value):
        separators = (",", ": ") if indent is not None else (",", ":")
        text = json_visible(json.dumps(value, ensure_ascii=False, indent=indent, separators=separators))
        stream.write(text if indent is None or "\n" not in text else text.replace("\n", "\n" + " " * (indent * level)))
        return
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    inner = "\n" + " " * (indent * (level + 1)) if indent is not None else ""
    stream.write(opening)
    for index, (key, item) in enumerate(items):
        stream.write(("," if index else "") + inner)
        if key is not None:
            stream.write(json_text(key) + (": " if indent is not None else ":"))
        write_json(stream, item, indent, level + 1)
    stream.write(("\n" + " " * (indent * level) if indent is not None else "") + closing)


def _flat(value: dict | list) -> bool:
    """A container with no big string anywhere inside: json.dumps writes it in one go."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > BIG_STRING:
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def write_rows(stream: IO[str], fmt: str, headers: list[str], rows: list[dict[str, Any]], *, pretty: bool, colour: bool) -> None:
    """SQL rows as json (an array), jsonl (an object a line), csv (with a header row) or a table;
    a statement without a result set (no columns) is nothing in csv or a table, not an empty line."""
    if not headers and fmt in ("csv", "table"):
        return None
    if fmt == "json":
        return write_response(stream, rows, pretty=pretty)
    if fmt in RowStream.FORMATS:
        rows_out = RowStream(stream, fmt, headers, pretty=pretty)
        rows_out.write(rows)
        return rows_out.close()
    return write_table(stream, headers, rows, colour=colour)


def write_table(stream: IO[str], headers: list[str], rows: list[dict[str, Any]], *, colour: bool) -> None:
    """SQL rows as rich's table: with colour (a terminal that allows it) as wide as the terminal, else plain in 200 columns."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Cells are Text, never markup: a value such as "/usr/[/local]" or "[red]x" is shown as it is.
    table = Table(show_edge=False, header_style="bold" if colour else "")
    for name in headers:
        table.add_column(Text(visible(name)))
    for row in rows:
        table.add_row(*(Text("NULL" if row[name] is None else visible(str(row[name]))) for name in headers))
    Console(file=stream, no_color=not colour, highlight=False, width=None if colour else 200, force_terminal=colour).print(table)


class RowStream:
    """SQL rows written page by page (json as one array, jsonl, csv), never held all at once."""

    FORMATS = ("json", "jsonl", "csv")

    def __init__(self, stream: IO[str], fmt: str, headers: list[str], *, pretty: bool) -> None:
        self.stream, self.fmt, self.headers, self.pretty = stream, fmt, headers, pretty
        self.count = 0
        self._csv = None
        if fmt == "csv":
            import csv

            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow([self._cell(name) for name in headers])

    def _cell(self, value: Any) -> Any:
        """A CSV cell: on a terminal, its control characters made visible; in a file, as it is."""
        return visible(value) if self.pretty and isinstance(value, str) else value

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([self._cell(row[name]) for name in self.headers])
            elif self.fmt == "jsonl":
                self.stream.write(json_text(row) + "\n")
            else:
                self.stream.write(("[" if self.count == 0 else ",") + ("\n  " if self.pretty else ""))
                write_json(self.stream, row, 2 if self.pretty else None, 1)
            self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("[]\n" if self.count == 0 else ("\n]\n" if self.pretty else "]\n"))
