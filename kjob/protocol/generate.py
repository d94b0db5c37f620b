"""Write kjob's endpoint registry from the pinned official client (`make schemas`; dev only).

    python -m kjob.protocol.generate [--check]

The facts come from gpudb 7.2.3.13 (the test extra): the request and response schema of
every endpoint it publishes, in field order, and the defaults its methods' signatures give
(`options={}`, `offset=0`, `limit=-9999`...). A parameter whose default is None is required,
arrays included: gpudb sends [] for a None array, but the API's own signatures take such a
parameter with no default (the C# API 7.2.3.0's `AggregateGroupByRequest(string table_name,
IList<string> column_names, long? offset=null, ...)`,
https://docs.kinetica.com/7.2/api/csharp/frame/classkinetica_1_1AggregateGroupByRequest.html;
the Rust API's `aggregate_group_by(table_name, column_names: Vec<String>, offset, limit)`,
https://docs.kinetica.com/content/api/rust/gpudb/struct.Kinetica/aggregate-group-by), so a
request without one is one the server would reject. A field with no parameter of its name (the
`list`/`list_str` pair of /insert/records, which the client fills from its `data` argument)
defaults to [] when it is an array; CLIENT_FILLS lists the None parameters the client replaces
with a value of its own, which is their default. Endpoints the client has no method for get no
defaults at all. Only these facts are written: no code, no prose.

One small JSON file per endpoint, so that kjob parses only the endpoints it uses: see
schemas.py for the numbers.
"""

from __future__ import annotations

import inspect
import json
import os
import sys

from kjob.protocol.schemas import ENDPOINTS_DIR, HERE, file_name

PINNED = "7.2.3.13"

# gpudb's insert_records sends its own object encoding (`binary` for a binary client) when
# list_encoding is None.
CLIENT_FILLS = {("/insert/records", "list_encoding"): "binary"}


def _client():
    from importlib.metadata import version

    import gpudb  # the official client: a test dependency, never imported by kjob itself

    if version("gpudb") != PINNED:
        raise SystemExit(f"gpudb {PINNED} is pinned (setup.cfg, test extra); this venv has {version('gpudb')}")
    client = gpudb.GPUdb.__new__(gpudb.GPUdb)  # its tables only: no connection
    client.load_gpudb_schemas()
    client.load_gpudb_func_to_endpoint_map()
    return gpudb.GPUdb, client


def _request(endpoint: str, schema: dict, method) -> dict:
    """The request schema with each field's default from `method`'s signature (None: no method)."""
    parameters = dict(inspect.signature(method).parameters) if method is not None else None
    fields = []
    for field in schema["fields"]:
        entry = {"name": field["name"], "type": field["type"]}
        is_array = isinstance(field["type"], dict) and field["type"].get("type") == "array"
        if parameters is not None:
            parameter = parameters.get(field["name"])
            if (endpoint, field["name"]) in CLIENT_FILLS:
                entry["default"] = CLIENT_FILLS[endpoint, field["name"]]
            elif parameter is None:
                if is_array:
                    entry["default"] = []
            elif parameter.default not in (None, inspect.Parameter.empty):  # None: required
                value = parameter.default
                if field["type"] in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                entry["default"] = value
        fields.append(entry)
    return {"type": "record", "name": schema["name"], "fields": fields}


def _record_text(schema: dict) -> str:
    """A record schema with one field a line: short, and a change shows as one line of a diff."""
    fields = ",\n".join(f"  {json.dumps(field)}" for field in schema["fields"])
    return f'{{"type": "record", "name": {json.dumps(schema["name"])}, "fields": [\n{fields}\n ]}}'


def _text(record: dict) -> str:
    return (f'{{"endpoint": {json.dumps(record["endpoint"])},\n "request": {_record_text(record["request"])},\n'
            f' "response": {_record_text(record["response"])}}}\n')


def build() -> dict[str, str]:
    """Every registry file's name (relative to this package) and text."""
    cls, client = _client()
    methods = {endpoint: getattr(cls, name, None) for name, endpoint in client.gpudb_func_to_endpoint_map.items()}
    files = {}
    for endpoint, entry in sorted(client.gpudb_schemas.items()):
        if not endpoint.startswith("/"):
            continue
        if "_" in endpoint:
            raise SystemExit(f"{endpoint}: an underscore would make its file name ambiguous")
        record = {
            "endpoint": endpoint,
            "request": _request(endpoint, json.loads(entry["REQ_SCHEMA_STR"]), methods.get(endpoint)),
            "response": json.loads(entry["RSP_SCHEMA_STR"]),
        }
        files[os.path.join("endpoints", file_name(endpoint))] = _text(record)
    wrapper = json.loads(client.gpudb_schemas["gpudb_response"]["RSP_SCHEMA_STR"])
    files["gpudb_response.json"] = _record_text(wrapper) + "\n"
    return files


def committed() -> dict[str, str]:
    """The registry files as they are in the package."""
    found = {}
    names = [os.path.join("endpoints", name) for name in os.listdir(ENDPOINTS_DIR)] if os.path.isdir(ENDPOINTS_DIR) else []
    for name in [*names, "gpudb_response.json"]:
        path = os.path.join(HERE, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                found[name] = handle.read()
    return found


def write(files: dict[str, str]) -> None:
    os.makedirs(ENDPOINTS_DIR, exist_ok=True)
    for name in os.listdir(ENDPOINTS_DIR):
        if os.path.join("endpoints", name) not in files:
            os.remove(os.path.join(ENDPOINTS_DIR, name))
    for name, text in files.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = sorted(set(files) ^ set(committed()) | {n for n, t in committed().items() if files.get(n) != t})
        print("\n".join(stale) or "the registry is up to date")
        return 1 if stale else 0
    write(files)
    print(f"wrote {len(files) - 1} endpoints to {ENDPOINTS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
