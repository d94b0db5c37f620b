"""The records inside an /execute/sql response: column-oriented JSON or Avro, turned into rows."""

from __future__ import annotations

from typing import Any

from kjob.errors import ProtocolError
from kjob.protocol import codec, payload


def sql_columns(response: dict) -> dict[str, Any]:
    """The column-oriented result (`column_1`..., `column_headers`, `column_datatypes`) of a response."""
    if response.get("json_encoded_response"):
        return codec.parse_json(response["json_encoded_response"], "json_encoded_response")
    encoded = response.get("binary_encoded_response") or b""
    if not encoded:
        return {"column_headers": [], "column_datatypes": []}
    if isinstance(encoded, str):  # Avro's JSON form of bytes
        encoded = encoded.encode("latin-1")
    schema = payload.Schema(codec.parse_json(response["response_schema_str"], "response_schema_str"))
    return schema.decode(encoded)


def sql_rows(response: dict) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows as objects) of an /execute/sql response."""
    columns = sql_columns(response)
    try:
        headers = list(columns["column_headers"])
        data = [columns[f"column_{index + 1}"] for index in range(len(headers))]
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"the /execute/sql result is not column-oriented as expected: missing {exc}") from None
    count = len(data[0]) if data else 0
    if any(len(column) != count for column in data):
        raise ProtocolError("the /execute/sql result has columns of different lengths")
    return headers, [dict(zip(headers, values)) for values in zip(*data)]
