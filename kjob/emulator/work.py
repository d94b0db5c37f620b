"""What an emulated job computes: a deterministic, realistic response for each endpoint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kjob.protocol import payload, records, schemas

VERSION = "7.2.3.13"

SYSTEM_STATUS = {"status": "running", "version": VERSION, "ha_status": "running"}

# A small, fixed data set that every SELECT of the emulator answers from.
CITIES = [
    (1, "Amsterdam", 11.2),
    (2, "Boston", 9.8),
    (3, "Chennai", 32.4),
    (4, "Dakar", 27.1),
    (5, "Edinburgh", None),
    (6, "Florence", 16.9),
]
SQL_COLUMNS = [("id", "long", "long"), ("city", "string", "char16"), ("temperature", ["double", "null"], "double")]


def system_properties(own_url: str, ring_urls: list[str]) -> dict[str, str]:
    """What /show/system/properties reports: one host, and the ring's head nodes for HA discovery."""
    return {
        "version.gpudb_core_version": VERSION,
        "conf.number_of_hosts": "1",
        "conf.host0_public_urls": own_url,
        "conf.enable_ha": "TRUE" if len(ring_urls) > 1 else "FALSE",
        "conf.ha_ring_head_nodes_full": ";".join(ring_urls) if len(ring_urls) > 1 else "",
    }


def system_status() -> dict:
    return {"status_map": {"system": json.dumps(SYSTEM_STATUS)}, "info": {}}


def sql_result(statement: str, encoding: str, rows: int | None = None) -> dict:
    """An /execute/sql response: SELECTs answer a column-oriented result set, others a count."""
    verb = statement.strip().split(None, 1)[0].upper() if statement.strip() else ""
    base = {
        "count_affected": 0,
        "response_schema_str": "",
        "binary_encoded_response": b"",
        "json_encoded_response": "",
        "total_number_of_records": 0,
        "has_more_records": False,
        "paging_table": "",
        "info": {},
    }
    if verb not in ("SELECT", "WITH", "SHOW", "DESCRIBE"):
        base["count_affected"] = int(hashlib.sha256(statement.encode()).hexdigest(), 16) % 1000
        return base
    selected = CITIES if rows is None else [CITIES[i % len(CITIES)] for i in range(rows)]
    return {**base, **column_result(SQL_COLUMNS, selected, encoding)}


def column_result(columns: list[tuple[str, Any, str]], rows: list[tuple], encoding: str) -> dict:
    """The fields of a dynamic-schema response (/execute/sql, /aggregate/groupby...) that carry
    `rows`: Kinetica's column-oriented record (`column_1`..., `column_headers`,
    `column_datatypes`), its schema in response_schema_str, Avro binary or JSON."""
    dynamic = {
        "type": "record",
        "name": "generic_response",
        "fields": [{"name": f"column_{i + 1}", "type": {"type": "array", "items": avro_type}} for i, (_, avro_type, _) in enumerate(columns)]
        + [
            {"name": "column_headers", "type": {"type": "array", "items": "string"}},
            {"name": "column_datatypes", "type": {"type": "array", "items": "string"}},
        ],
    }
    record: dict[str, Any] = {f"column_{i + 1}": [row[i] for row in rows] for i in range(len(columns))}
    record["column_headers"] = [name for name, _, _ in columns]
    record["column_datatypes"] = [kind for _, _, kind in columns]
    result = {"response_schema_str": json.dumps(dynamic), "binary_encoded_response": b"", "json_encoded_response": "",
              "total_number_of_records": len(rows), "has_more_records": False}
    if encoding == "json":
        result["json_encoded_response"] = json.dumps(record)
    else:
        result["binary_encoded_response"] = payload.Schema(dynamic).encode(record)
    return result


def rows_for(request: dict) -> tuple[list[tuple[str, Any, str]], list[tuple]]:
    """The columns and rows a dynamic-schema request (other than SQL) answers: the columns it
    names (`column_names` or `column_name`; the emulator's cities table when it names none),
    cut by its `offset` and `limit` (-9999: all) or `emulator_rows`."""
    known = {name: (index, avro_type, kind) for index, (name, avro_type, kind) in enumerate(SQL_COLUMNS)}
    names = request.get("column_names") or ([request["column_name"]] if request.get("column_name") else None)
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        names = [name for name, _, _ in SQL_COLUMNS]
    options = request.get("options") or {}
    count = int(options["emulator_rows"]) if str(options.get("emulator_rows", "")).isdigit() else len(CITIES)
    offset = max(0, request.get("offset", 0) if isinstance(request.get("offset"), int) else 0)
    limit = request.get("limit", -9999)
    end = count if not isinstance(limit, int) or limit < 0 else min(count, offset + limit)
    columns, rows = [], []
    for name in names:
        index, avro_type, kind = known.get(name, (None, "string", "char64"))
        columns.append((name, avro_type, kind))
    for row in range(offset, end):
        city = CITIES[row % len(CITIES)]
        rows.append(tuple(city[known[name][0]] if name in known else f"{name} {row + 1}" for name in names))
    return columns, rows


def respond(request: dict, request_schema: dict, response_schema: dict) -> dict:
    """A valid, plausible response to `request` for any endpoint.

    A response field named like a request field of the same type echoes it (`table_name`), a
    list named for one holds it (`table_names`: [table_name]), and the other top-level lists
    then have as many items, so that parallel lists line up; the rest is empty or zero.
    Dynamic-schema responses (response_schema_str) carry rows."""
    request_types = {field["name"]: field["type"] for field in request_schema["fields"]}
    result = {field["name"]: payload.empty(field["type"]) for field in response_schema["fields"]}
    filled = set()
    if records.carries_rows(response_schema):
        columns, rows = rows_for(request)
        dynamic = column_result(columns, rows, request.get("encoding", "binary"))
        filled = dynamic.keys() & result.keys()
        result.update({name: dynamic[name] for name in filled})
    length = 0
    for field in response_schema["fields"]:
        name, kind = field["name"], field["type"]
        if name in filled:
            continue
        if name in request_types and request_types[name] == kind:
            result[name] = request[name]
            filled.add(name)
        elif name.endswith("s") and isinstance(kind, dict) and kind["type"] == "array" and request_types.get(name[:-1]) == kind["items"]:
            result[name] = [request[name[:-1]]]
            filled.add(name)
            length = 1
    for field in response_schema["fields"]:
        kind = field["type"]
        if length and field["name"] not in filled and isinstance(kind, dict) and kind["type"] == "array":
            result[field["name"]] = [_item(kind["items"], field["name"], i) for i in range(length)]
    return result


def _item(schema: Any, list_name: str, index: int) -> Any:
    """An item of a generated list: text names itself (`type_ids` -> "type_id_1"), the rest is empty."""
    if schema == "string":
        return f"{list_name.removesuffix('s')}_{index + 1}"
    return payload.empty(schema)


def alter_table_result(request: dict) -> dict:
    table = request["table_name"]
    type_id = hashlib.sha256(table.encode()).hexdigest()[:20]
    return {
        "table_name": table,
        "action": request["action"],
        "value": request["value"],
        "type_id": type_id,
        "type_definition": json.dumps(
            {"type": "record", "name": "type_name", "fields": [{"name": "id", "type": "long"}, {"name": "city", "type": "string"}]}
        ),
        "properties": {"id": ["data", "primary_key"], "city": ["data", "char16"]},
        "label": "",
        "info": {},
    }


def _sql(request: dict, cluster_urls: list[str]) -> dict:
    options = request.get("options", {})
    rows = int(options["emulator_rows"]) if "emulator_rows" in options else None
    return sql_result(request["statement"], request.get("encoding", "binary"), rows)


# Endpoints with an answer of their own; every other endpoint gets respond()'s.
HANDLERS: dict[str, Callable[[dict, list[str]], dict]] = {
    "/execute/sql": _sql,
    "/alter/table": lambda request, urls: alter_table_result(request),
    "/show/system/status": lambda request, urls: system_status(),
    "/show/system/properties": lambda request, urls: {"property_map": system_properties(urls[0], urls), "info": {}},
}


def run(endpoint: str, request: dict | None, cluster_urls: list[str], padding: int = 0) -> dict:
    """The response record of `endpoint` for `request` (None: a payload too large to keep).

    `padding` adds that many bytes to the response's `info` (key `emulator_padding`), so a
    job's response can be as large as a benchmark asks.
    """
    found = schemas.endpoint(endpoint)
    if request is None:
        result = payload.empty(found.response.schema)
    elif endpoint in HANDLERS:
        result = HANDLERS[endpoint](request, cluster_urls)
    else:
        result = respond(request, found.request.schema, found.response.schema)
    if padding and "info" in result:
        result["info"] = {**result["info"], "emulator_padding": "x" * padding}
    return result
