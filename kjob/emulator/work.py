"""What an emulated job computes: a deterministic, realistic response for each endpoint."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kjob.emulator import sql
from kjob.protocol import schemas

VERSION = "7.2.3.13"

SYSTEM_STATUS = {"status": "running", "version": VERSION}

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


def run(endpoint: str, request: dict | None, cluster_urls: list[str], padding: int = 0,
        database: sql.Database | None = None) -> dict:
    """The response record of `endpoint` for `request` (None: a payload too large to keep).

    SQL runs on the ring's `database` (a statement it refuses raises sql.SqlError).
    `padding` adds that many bytes to the response's `info` (key `emulator_padding`), so a
    job's response can be as large as a benchmark asks.
    """
    if request is None:
        result = blank(schemas.endpoint(endpoint).response.schema)
    elif endpoint == "/execute/sql" and database is not None:
        result = database.execute_sql(request)
    elif endpoint == "/get/records/bycolumn" and database is not None:
        result = database.records_by_column(request)
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
