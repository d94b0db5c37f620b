"""The records inside a dynamic-schema response, turned into rows.

/execute/sql, /aggregate/groupby, /aggregate/unique, /aggregate/unpivot,
/get/records/bycolumn (and any response with `response_schema_str` and
`binary_encoded_response` / `json_encoded_response`) carry their own record schema and a
column-oriented record: `column_1`..., `column_headers`, `column_datatypes`. Source: the
official client reads every such response the same way (gpudb 7.2.3.13,
`GPUdb.parse_dynamic_response`: column N is named by column_headers[N-1], from the Avro
binary with response_schema_str, or from the JSON); these five are the endpoints for which it
keeps a second, dynamic response schema.
"""

from __future__ import annotations

from typing import Any

from kjob.errors import ProtocolError
from kjob.protocol import encodings, payload


def carries_rows(schema: dict) -> bool:
    """A response schema whose records come with their own schema (response_schema_str)."""
    names = {field["name"] for field in schema["fields"]}
    return "response_schema_str" in names and bool(names & {"binary_encoded_response", "json_encoded_response"})


def columns_of(response: dict) -> dict[str, Any]:
    """The column-oriented record of a dynamic-schema response (JSON or Avro binary)."""
    schema_text = response.get("response_schema_str") or ""
    if response.get("json_encoded_response"):
        record = encodings.parse_json(response["json_encoded_response"], "json_encoded_response")
        if not schema_text:
            return record
        # Avro's JSON form: with the schema, a bytes column becomes bytes again (not latin-1 text)
        try:
            return _schema(schema_text).read_json(record)
        except payload.PayloadMismatch as exc:
            raise ProtocolError(f"json_encoded_response does not fit response_schema_str: {exc}") from None
    encoded = response.get("binary_encoded_response") or b""
    if not encoded:
        return {"column_headers": [], "column_datatypes": []}
    if isinstance(encoded, str):  # Avro's JSON form of bytes
        encoded = encoded.encode("latin-1")
    return _schema(schema_text).decode(encoded)


def _schema(text: str) -> payload.Schema:
    return payload.Schema(encodings.parse_json(text, "response_schema_str"))


def rows_of(response: dict) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows as objects) of a dynamic-schema response."""
    columns = columns_of(response)
    try:
        headers = list(columns["column_headers"])
        data = [columns[f"column_{index + 1}"] for index in range(len(headers))]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"the result is not column-oriented as expected: missing {exc}") from None
    count = len(data[0]) if data else 0
    if any(len(column) != count for column in data):
        raise ProtocolError("the result has columns of different lengths")
    return headers, [dict(zip(headers, values)) for values in zip(*data)]
