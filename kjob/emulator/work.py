"""What an emulated job computes: a deterministic, realistic response for each endpoint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kjob.emulator import sql
from kjob.protocol import payload, records, schemas

VERSION = "7.2.3.13"

SYSTEM_STATUS = {"status": "running", "version": VERSION}

# The rows that dynamic-schema endpoints other than SQL (/aggregate/groupby...) answer: the
# `cities` table as the emulator's database is seeded with (sql.DEMO_TABLES).
CITIES = sql.seeded_rows("cities")
SQL_COLUMNS = [("id", "long", "long"), ("city", "string", "char16"), ("temperature", ["double", "null"], "double")]

# GET / on a running server answers this short text (what a browser or a load balancer sees).
ROOT_TEXT = b"Kinetica is running\n"


def system_properties(own_url: str, ring_urls: list[str]) -> dict[str, str]:
    """What /show/system/properties reports: one host, and the ring's head nodes for HA discovery."""
    return {
        "version.gpudb_core_version": VERSION,
        "conf.number_of_hosts": "1",
        "conf.host0_public_urls": own_url,
        "conf.enable_ha": "TRUE" if len(ring_urls) > 1 else "FALSE",
        "conf.ha_ring_head_nodes_full": ";".join(ring_urls) if len(ring_urls) > 1 else "",
    }


def system_status(draining: bool = False) -> dict:
    """/show/system/status: `system` says running; the HA drain state is a key of its own."""
    ha_status = {"drained": "draining" if draining else "drained"}
    return {"status_map": {"system": json.dumps(SYSTEM_STATUS), "ha_status": json.dumps(ha_status)}, "info": {}}


def column_result(columns: list[tuple[str, Any, str]], rows: list[tuple], encoding: str) -> dict:
    """The fields of a dynamic-schema response (/aggregate/groupby...) that carry `rows`, the
    columns' types as given: (name, Avro type, Kinetica's name for it)."""
    result = sql.encoded_columns([name for name, _, _ in columns], [avro_type for _, avro_type, _ in columns],
                                 [kind for _, _, kind in columns], [[row[i] for row in rows] for i in range(len(columns))], encoding)
    return {**result, "total_number_of_records": len(rows), "has_more_records": False}


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
    columns = [(name, *known[name][1:]) if name in known else (name, "string", "char64") for name in names]
    rows = [tuple(CITIES[row % len(CITIES)][known[name][0]] if name in known else f"{name} {row + 1}" for name in names)
            for row in range(offset, end)]
    return columns, rows


def respond(request: dict, request_schema: dict, response_schema: dict) -> dict:
    """A valid, plausible response to `request` for any endpoint.

    A response field named like a request field of the same type echoes it (`table_name`), a
    list named for one holds it (`table_names`: [table_name]), and the other top-level lists
    then have as many items, so that parallel lists line up; the first `count_...` is a
    number the request decides; the rest is empty or zero. Dynamic-schema responses carry rows."""
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
    counted = False
    for field in response_schema["fields"]:
        name, kind = field["name"], field["type"]
        if name in filled:
            continue
        if length and isinstance(kind, dict) and kind["type"] == "array":
            result[name] = [_item(kind["items"], name.removesuffix("s"), i) for i in range(length)]
        elif name in TYPE_SCHEMA_FIELDS:
            result[name] = CITIES_TYPE
        elif name.startswith("count_") and kind in ("int", "long") and not counted:
            # The first count (count_inserted, count_updated...) is what the job did: a number the request decides.
            result[name] = 1 + int(hashlib.sha256(repr(sorted(request.items())).encode()).hexdigest(), 16) % 999
            counted = True
    return result


# Fields that hold a table's Avro type: a client parses them (gpudb's show_table does).
TYPE_SCHEMA_FIELDS = {"type_schema", "type_definition"}
CITIES_TYPE = json.dumps({"type": "record", "name": "type_name", "fields": [
    {"name": name, "type": avro_type} for name, avro_type, _ in SQL_COLUMNS]})


def _item(schema: Any, name: str, index: int) -> Any:
    """An item of a generated list named for `name`: a table type for type schemas, text that
    names itself (`type_id_1`), the empty value otherwise."""
    if schema == "string":
        return CITIES_TYPE if name in TYPE_SCHEMA_FIELDS else f"{name}_{index + 1}"
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


# The endpoints whose work runs on the ring's database as the job starts (a failure is the
# job's ERROR, with the engine's message).
DATABASE_ENDPOINTS = frozenset({"/execute/sql", "/get/records/bycolumn"})

# Endpoints with an answer of their own; every other endpoint gets respond()'s.
Handler = Callable[[dict, list[str], "sql.Database"], dict]
HANDLERS: dict[str, Handler] = {
    "/execute/sql": lambda request, urls, database: database.execute_sql(request),
    "/get/records/bycolumn": lambda request, urls, database: database.records_by_column(request),
    "/alter/table": lambda request, urls, database: alter_table_result(request),
    "/show/system/status": lambda request, urls, database: system_status(),
    "/show/system/properties": lambda request, urls, database: {"property_map": system_properties(urls[0], urls),
                                                                "info": {}},
}


def run(endpoint: str, request: dict | None, cluster_urls: list[str], padding: int = 0, *,
        database: sql.Database) -> dict:
    """The response record of `endpoint` for `request` (None: a payload too large to keep).

    SQL runs on the ring's `database` (a statement it refuses raises sql.SqlError).
    `padding` adds that many bytes to the response's `info` (key `emulator_padding`), so a
    job's response can be as large as a benchmark asks.
    """
    found = schemas.endpoint(endpoint)
    if request is None:
        result = payload.empty(found.response.schema)
    elif endpoint in HANDLERS:
        result = HANDLERS[endpoint](request, cluster_urls, database)
    else:
        result = respond(request, found.request.schema, found.response.schema)
    if padding and "info" in result:
        result["info"] = {**result["info"], "emulator_padding": "x" * padding}
    return result
