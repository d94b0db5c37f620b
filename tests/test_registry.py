"""The endpoint registry: generated from the pinned official client, complete, loaded lazily."""

from __future__ import annotations

import json
import subprocess
import sys

from kjob.protocol import generate, schemas


def test_the_committed_registry_is_what_make_schemas_generates():
    fresh, committed = generate.build(), generate.committed()
    stale = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    assert stale == [], f"run `make schemas`: {stale[:5]}"
    assert len(fresh) == 222  # 221 endpoints and the gpudb_response wrapper


def test_defaults_come_from_the_clients_signatures():
    fields = {f["name"]: f for f in schemas.endpoint("/execute/sql").request.schema["fields"]}
    assert fields["offset"]["default"] == 0
    assert fields["limit"]["default"] == -9999
    assert fields["encoding"]["default"] == "binary"
    assert fields["options"]["default"] == {}
    assert "default" not in fields["statement"]  # no default: required
    projection = {f["name"]: f for f in schemas.endpoint("/create/projection").request.schema["fields"]}
    assert "default" not in projection["column_names"]  # an array whose default is None is required too
    assert "default" not in projection["table_name"]
    update = {f["name"]: f for f in schemas.endpoint("/update/records").request.schema["fields"]}
    assert update["new_values_maps"]["type"] == {"type": "array", "items": {"type": "map", "values": ["string", "null"]}}
    insert = {f["name"]: f for f in schemas.endpoint("/insert/records").request.schema["fields"]}
    assert (insert["list"]["default"], insert["list_encoding"]["default"]) == ([], "binary")  # what gpudb sends


def test_one_endpoint_is_loaded_without_parsing_the_others():
    code = (
        "import json, kjob.protocol.schemas as s\n"
        "calls = []\n"
        "real = json.load\n"
        "json.load = lambda f, *a, **k: calls.append(f.name) or real(f, *a, **k)\n"
        "s.endpoint('/get/job'); s.wrapper(); print(len(s.known_endpoints()), len(calls))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["221", "2"]


def test_every_registry_file_names_its_endpoint():
    for path in schemas.known_endpoints()[:: 20]:
        with open(f"{schemas.ENDPOINTS_DIR}/{schemas.file_name(path)}", encoding="utf-8") as handle:
            assert json.load(handle)["endpoint"] == path


def test_status_reads_kjobs_own_records_without_fastavro(emulator):
    """`kjob status` stays fast: the wrapper and /get/job are read by kjob's own Avro code
    (avro.py says why), in every wire encoding; fastavro is for payloads and responses."""
    from conftest import run_cli

    tag = run_cli(["submit", "/alter/table", "-q", "--url", emulator.url, "--data",
                   json.dumps({"table_name": "t", "action": "refresh", "value": ""})]).stdout.strip()
    for wire in ("binary", "json", "snappy"):
        code = ("import sys\nfrom kjob.cli import main\n"
                f"try:\n    main(['status', {tag!r}, '--url', {emulator.url!r}, '--wire', {wire!r}, '-q'])\n"
                "except SystemExit as exit:\n    print(exit.code, 'fastavro' in sys.modules)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
        assert out[-2:] == ["0", "False"], (wire, out)
