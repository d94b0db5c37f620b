"""The emulator's SQL: statements run on a real database (SQLite, from the standard library).

One database per ring, in memory unless a file is given, seeded with the demo tables. An
/execute/sql answer is shaped as Kinetica's (docs/PROTOCOL-NOTES.md): the column-oriented
result (`column_1`..., `column_headers`, `column_datatypes`), cut at `limit` and at the
server's `max_get_records_size`; a cut result says `has_more_records`, gives
`total_number_of_records` and names a paging table that holds the whole result, which
/get/records/bycolumn reads page by page.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from typing import Any

from kjob.protocol import encodings, payload

END_OF_SET = -9999  # `limit`: as many records as the server allows
MAX_GET_RECORDS_SIZE = 20000  # Kinetica's default for conf.max_get_records_size
DEFAULT_SCHEMA = re.compile(r"\bki_home\.", re.IGNORECASE)  # Kinetica's default schema is SQLite's main database

DEMO_TABLES = (
    "CREATE TABLE IF NOT EXISTS cities (id INTEGER NOT NULL PRIMARY KEY, city TEXT NOT NULL, temperature REAL)",
    "INSERT OR IGNORE INTO cities VALUES (1, 'Amsterdam', 11.2), (2, 'Boston', 9.8), (3, 'Chennai', 32.4),"
    " (4, 'Dakar', 27.1), (5, 'Edinburgh', NULL), (6, 'Florence', 16.9)",
    "CREATE TABLE IF NOT EXISTS sales (id INTEGER NOT NULL PRIMARY KEY, city_id INTEGER NOT NULL, amount REAL NOT NULL)",
    "INSERT OR IGNORE INTO sales VALUES (1, 1, 120.5), (2, 2, 80.0), (3, 1, 42.25), (4, 6, 310.0)",
)


def seeded_rows(table: str, seed: tuple[str, ...] = DEMO_TABLES) -> list[tuple]:
    """The rows `seed` puts in `table`, in id order: the one source of the demo data, for the
    endpoints other than SQL that answer rows too."""
    connection = sqlite3.connect(":memory:")
    try:
        for statement in seed:
            connection.execute(statement)
        return connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        connection.close()


# Column types: (Avro type, Kinetica's name for it in column_datatypes), by the Python values found.
TYPES = {int: ("long", "long"), float: ("double", "double"), str: ("string", "string"), bytes: ("bytes", "bytes")}


class SqlError(Exception):
    """A statement the database refused; the message is the engine's own."""


class Database:
    """The ring's database: one SQLite connection, used by one request at a time."""

    def __init__(self, path: str = ":memory:", *, max_get_records_size: int = MAX_GET_RECORDS_SIZE,
                 seed: tuple[str, ...] = DEMO_TABLES) -> None:
        self.max_get_records_size = max_get_records_size
        self.lock = threading.Lock()
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.run_script(seed)

    def run_script(self, statements: tuple[str, ...] | list[str]) -> None:
        """Run statements one by one (seeding); the first that fails raises SqlError."""
        for statement in statements:
            try:
                self._execute(statement)
            except SqlError as exc:
                shown = statement if len(statement) <= 60 else statement[:57] + "..."
                raise SqlError(f"{shown!r}: {exc}") from None

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    def _execute(self, statement: str) -> tuple[list[str] | None, list[tuple], int]:
        """(column names or None, rows, rows changed) of one statement."""
        with self.lock:
            try:
                cursor = self.connection.execute(DEFAULT_SCHEMA.sub("", statement))
                names = [column[0] for column in cursor.description] if cursor.description else None
                rows = cursor.fetchall() if names is not None else []
                return names, rows, max(cursor.rowcount, 0)
            except (sqlite3.Error, OverflowError, ValueError) as exc:
                raise SqlError(f"SQL error: {exc}") from None

    def execute_sql(self, request: dict) -> dict:
        """An /execute/sql response for its request."""
        names, rows, changed = self._execute(request["statement"])
        options = request.get("options", {})
        response = {"count_affected": changed, "response_schema_str": "", "binary_encoded_response": b"",
                    "json_encoded_response": "", "total_number_of_records": 0, "has_more_records": False,
                    "paging_table": "", "info": {}}
        if names is None:
            return response
        offset, size = self._window(request.get("offset", 0), request.get("limit", END_OF_SET))
        page = rows[offset : offset + size]
        has_more = offset + len(page) < len(rows)
        if has_more:
            response["paging_table"] = self._keep(names, rows, options.get("paging_table"))
        response.update(encode_columns(names, page, request.get("encoding", "binary")))
        response["total_number_of_records"] = len(rows)
        response["has_more_records"] = has_more
        response["info"] = {"count": str(len(rows))}
        return response

    def records_by_column(self, request: dict) -> dict:
        """A /get/records/bycolumn response: a page of a table (a paging table, or any other)."""
        table = DEFAULT_SCHEMA.sub("", request["table_name"])
        columns = request["column_names"]
        wanted = "*" if not columns or columns == ["*"] else ", ".join(_quoted(name) for name in columns)
        offset, size = self._window(request.get("offset", 0), request.get("limit", END_OF_SET))
        total = self._execute(f"SELECT COUNT(*) FROM {_quoted(table)}")[1][0][0]
        names, rows, _ = self._execute(f"SELECT {wanted} FROM {_quoted(table)} ORDER BY rowid LIMIT {size} OFFSET {offset}")
        response = {"table_name": request["table_name"], "total_number_of_records": total,
                    "has_more_records": offset + len(rows) < total, "info": {}}
        response.update(encode_columns(names or [], rows, request.get("encoding", "binary")))
        return response

    def _window(self, offset: int, limit: int) -> tuple[int, int]:
        """(offset, records to return): `limit` END_OF_SET or beyond the server's maximum is cut to it."""
        if offset < 0:
            raise SqlError(f"offset {offset} is negative")
        if limit < 0 and limit != END_OF_SET:
            raise SqlError(f"limit {limit} is negative (END_OF_SET is {END_OF_SET})")
        return offset, self.max_get_records_size if limit == END_OF_SET else min(limit, self.max_get_records_size)

    def _keep(self, names: list[str], rows: list[tuple], name: str | None) -> str:
        """Store a whole result in a paging table (the caller's name, or a new one); its name."""
        name = name or f"ki_home.paging_{uuid.uuid4().hex[:16]}"
        table = _quoted(DEFAULT_SCHEMA.sub("", name))
        with self.lock:
            self.connection.execute(f"DROP TABLE IF EXISTS {table}")
            self.connection.execute(f"CREATE TABLE {table} ({', '.join(_quoted(column) for column in names)})")
            self.connection.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in names)})", rows)
        return name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_type(values: list[Any]) -> tuple[Any, str, type]:
    """(Avro type, Kinetica datatype, Python type) of a result column, from its values."""
    kinds = {type(value) for value in values if value is not None}
    if kinds <= {int}:
        kind = int
    elif kinds <= {int, float}:
        kind = float
    elif kinds == {bytes}:
        kind = bytes
    else:
        kind = str
    avro_type, datatype = TYPES[kind] if kinds else TYPES[str]
    return ([avro_type, "null"] if None in values else avro_type), datatype, kind


def encode_columns(names: list[str], rows: list[tuple], encoding: str) -> dict:
    """The column-oriented result of rows, each column's type found from its values."""
    avro_types, datatypes, columns = [], [], []
    for index in range(len(names)):
        values = [row[index] for row in rows]
        avro_type, datatype, kind = column_type(values)
        avro_types.append(avro_type)
        datatypes.append(datatype)
        columns.append([value if value is None or isinstance(value, kind) else kind(value) for value in values])
    return encoded_columns(names, avro_types, datatypes, columns, encoding)


def encoded_columns(names: list[str], avro_types: list[Any], datatypes: list[str], columns: list[list], encoding: str) -> dict:
    """Columns as Kinetica's column-oriented result (`column_1`..., `column_headers`,
    `column_datatypes`): its schema in response_schema_str, the record in Avro binary or JSON."""
    record: dict[str, Any] = {f"column_{index + 1}": values for index, values in enumerate(columns)}
    record["column_headers"] = list(names)
    record["column_datatypes"] = list(datatypes)
    schema = {"type": "record", "name": "generic_response", "fields": [
        *({"name": f"column_{index + 1}", "type": {"type": "array", "items": avro_type}} for index, avro_type in enumerate(avro_types)),
        {"name": "column_headers", "type": {"type": "array", "items": "string"}},
        {"name": "column_datatypes", "type": {"type": "array", "items": "string"}},
    ]}
    encoded = {"response_schema_str": json.dumps(schema), "binary_encoded_response": b"", "json_encoded_response": ""}
    if not encodings.answered_in(encoding).avro:  # bytes as Avro's JSON form has them: one character per byte
        encoded["json_encoded_response"] = json.dumps(record, default=lambda value: value.decode("latin-1"))
    else:
        encoded["binary_encoded_response"] = payload.Schema(schema).encode(record)
    return encoded
