"""What an emulated job computes: a deterministic, realistic response for each endpoint."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kjob.protocol import payload, schemas

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
    dynamic = {
        "type": "record",
        "name": "generic_response",
        "fields": [{"name": f"column_{i + 1}", "type": {"type": "array", "items": avro_type}} for i, (_, avro_type, _) in enumerate(SQL_COLUMNS)]
        + [
            {"name": "column_headers", "type": {"type": "array", "items": "string"}},
            {"name": "column_datatypes", "type": {"type": "array", "items": "string"}},
        ],
    }
    columns: dict[str, Any] = {f"column_{i + 1}": [row[i] for row in selected] for i in range(len(SQL_COLUMNS))}
    columns["column_headers"] = [name for name, _, _ in SQL_COLUMNS]
    columns["column_datatypes"] = [kind for _, _, kind in SQL_COLUMNS]
    base["response_schema_str"] = json.dumps(dynamic)
    if encoding == "json":
        base["json_encoded_response"] = json.dumps(columns)
    else:
        base["binary_encoded_response"] = payload.Schema(dynamic).encode(columns)
    base["total_number_of_records"] = len(selected)
    return base


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


def blank(schema: Any) -> Any:
    """The empty value of a schema, for endpoints the emulator has no special answer for."""
    kind = schema if isinstance(schema, str) else schema["type"]
    empty = {"string": "", "bytes": b"", "int": 0, "long": 0, "boolean": False, "float": 0.0, "double": 0.0, "array": [], "map": {}}
    if kind == "record":
        return {field["name"]: blank(field["type"]) for field in schema["fields"]}
    return empty.get(kind)


def run(endpoint: str, request: dict | None, cluster_urls: list[str], padding: int = 0) -> dict:
    """The response record of `endpoint` for `request` (None: a payload too large to keep).

    `padding` adds that many bytes to the response's `info` (key `emulator_padding`), so a
    job's response can be as large as a benchmark asks.
    """
    if request is None:
        result = blank(schemas.endpoint(endpoint).response.schema)
    elif endpoint == "/execute/sql":
        options = request.get("options", {})
        rows = int(options["emulator_rows"]) if "emulator_rows" in options else None
        result = sql_result(request["statement"], request.get("encoding", "binary"), rows)
    elif endpoint == "/alter/table":
        result = alter_table_result(request)
    elif endpoint == "/show/system/status":
        result = system_status()
    elif endpoint == "/show/system/properties":
        result = {"property_map": system_properties(cluster_urls[0], cluster_urls), "info": {}}
    else:
        result = blank(schemas.endpoint(endpoint).response.schema)
    if padding and "info" in result:
        result["info"] = {**result["info"], "emulator_padding": "x" * padding}
    return result
