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
    """The record schema a server sent with its rows, refused when an array of it could claim
    any number of items in no bytes (`array<null>`): a hostile count would then be decoded
    item by item, for ever, with nothing in the answer to bound it."""
    schema = encodings.parse_json(text, "response_schema_str")
    named: dict[str, Any] = {}
    if _has_free_items(schema, named):
        raise ProtocolError("response_schema_str holds an array whose items take no bytes; kjob refuses to read it")
    return payload.Schema(schema)


def _has_free_items(schema: Any, named: dict[str, Any]) -> bool:
    """Whether `schema` holds an array whose items may be encoded in zero bytes."""
    if isinstance(schema, list):
        return any(_has_free_items(branch, named) for branch in schema)
    if not isinstance(schema, dict):
        return False
    if "name" in schema:
        named[schema["name"]] = schema
    kind = schema.get("type")
    if kind == "array":
        return _takes_no_bytes(schema.get("items"), named) or _has_free_items(schema.get("items"), named)
    if kind == "map":
        return _has_free_items(schema.get("values"), named)
    if kind == "record":
        return any(_has_free_items(field.get("type"), named) for field in schema.get("fields", []))
    return isinstance(kind, (dict, list)) and _has_free_items(kind, named)


def _takes_no_bytes(schema: Any, named: dict[str, Any]) -> bool:
    """Whether a value of `schema` may be encoded in zero bytes (null, fixed of size 0, a
    record of such fields); a union, a number, a string or a block count takes at least one."""
    if isinstance(schema, str):
        return schema == "null" or (schema in named and _takes_no_bytes(named[schema], named))
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind == "record":
        return all(_takes_no_bytes(field.get("type"), {**named, schema.get("name"): {}}) for field in schema.get("fields", []))
    if kind == "fixed":
        return schema.get("size") == 0
    return isinstance(kind, str) and kind == "null"


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
    return headers, [dict(zip(headers, values, strict=True)) for values in zip(*data, strict=True)]
