"""Every endpoint of the registry, in one test each way (not 221 parametrized ones): kjob
encodes a payload in each request encoding, the emulator (a real HTTP server) decodes it into
the same request and answers a response that decodes with the endpoint's schema; and the
official client gpudb sends the same bytes for every endpoint, runs it as a job on the
emulator and reads the answer with its own schema."""

from __future__ import annotations

import json

import gpudb
import pytest
import requests

from kjob.emulator import Emulator
from kjob.protocol import codec, encodings, payload, schemas

ENCODINGS = ("binary", "json", "snappy")


def filled(schema, name: str = "x"):
    """A value of `schema` (plain JSON, as a user writes it) with something in every place: one
    item per list and map, non-ASCII text, every byte value, 64-bit numbers, a union's every branch."""
    if isinstance(schema, list):
        return None if "null" in schema and name.endswith("null") else filled(schema[0], name)
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "record":
        return {field["name"]: filled(field["type"], field["name"]) for field in schema["fields"]}
    if kind == "array":
        return [filled(schema["items"], name)]
    if kind == "map":
        return {f"{name}-ключ": filled(schema["values"], name), f"{name}-null": filled(schema["values"], f"{name}-null")}
    return {"string": f"{name}-é😀", "bytes": "".join(map(chr, range(256))), "int": -(2**31), "long": 2**62 + 1,
            "boolean": True, "float": 1.5, "double": -2.25, "null": None}[kind]


def sample_request(endpoint: str) -> dict:
    """A request of `endpoint` with every field filled in (what runs on the emulator's database:
    a statement and a table that it has)."""
    request = filled(schemas.endpoint(endpoint).request.schema)
    if endpoint == "/execute/sql":
        request["statement"] = "SELECT 'statement-é😀' AS text"
    if endpoint == "/get/records/bycolumn":
        request.update(table_name="cities", column_names=["city"], offset=0, limit=2**62 + 1)
    return request


@pytest.fixture
def instant():
    """An emulated cluster whose jobs end as soon as they start."""
    with Emulator(port=0, job_duration=0, record=True) as emu:
        yield emu


def post(session: requests.Session, url: str, endpoint: str, record: dict) -> dict:
    answer = session.post(url + endpoint, data=codec.encode_request(endpoint, record, "binary"),
                          headers={"Content-Type": encodings.BINARY.content_type}, timeout=10)
    return codec.decode_response(endpoint, answer.content, "binary")


def test_every_endpoint_in_every_encoding_through_the_emulator(instant):
    checked = 0
    with requests.Session() as session:
        for endpoint in schemas.known_endpoints():
            skeleton = payload.skeleton(schemas.endpoint(endpoint).request.schema)  # `submit --skeleton` output...
            assert payload.to_json_value(payload.request_schema(endpoint).conform(skeleton)) == skeleton  # ...taken as it is
            value = sample_request(endpoint)
            expected = payload.to_json_value(payload.request_schema(endpoint).conform(value))
            for encoding in ENCODINGS:
                data, data_str = payload.encode_payload(payload.request_schema(endpoint), value, encoding)
                tag = f"walk-{checked}"
                created = post(session, instant.url, "/create/job", {
                    "endpoint": endpoint, "request_encoding": encoding, "data": data, "data_str": data_str,
                    "options": {"job_tag": tag}})
                # The emulator's own decoding of each payload is what this walk tests; no endpoint returns it.
                received = instant.ring.jobs[tag].request
                assert payload.to_json_value(received) == expected, (endpoint, encoding)
                job = post(session, instant.url, "/get/job", {"job_id": created["job_id"], "options": {}})
                assert job["job_status"] == "DONE", (endpoint, encoding, job["status_map"])
                assert job["response_encoding"] == ("json" if encoding == "json" else "binary")
                response = payload.read_job_response(job)
                if encoding == "json":  # the JSON form must be a valid record of the response schema
                    assert response == schemas.endpoint(endpoint).response.from_json_value(json.loads(job["job_response_str"]))
                fields = schemas.endpoint(endpoint).response.field_names
                assert list(response) == fields, (endpoint, encoding)
                echoed = [name for name in fields if name in expected and name != "info" and response[name] == received[name]]
                if "table_name" in fields and "table_name" in expected:
                    assert "table_name" in echoed, endpoint  # fields named like request fields echo them
                checked += 1
    assert checked == 3 * len(schemas.known_endpoints()) == 663


def test_a_payload_that_does_not_decode_is_refused_as_a_server_would(emulator):
    with requests.Session() as session:
        answer = session.post(emulator.url + "/create/job", headers={"Content-Type": encodings.BINARY.content_type},
                              data=codec.encode_request("/create/job", {
                                  "endpoint": "/update/records", "request_encoding": "binary", "data": b"\x02t\x00\x02",
                                  "data_str": "", "options": {}}, "binary"), timeout=10)
    wrapped = codec.decode_wrapper(answer.content, "binary")
    assert answer.status_code == 400 and wrapped["status"] == "ERROR"
    assert wrapped["message"].startswith("Unable to parse the /update/records payload: malformed or truncated Avro")


def test_gpudb_runs_every_endpoint_as_a_job_on_the_emulator(instant):
    """The official client submits kjob-encoded payloads (the same bytes as its own, a union
    included) in a /create/job that is byte for byte kjob's, for every endpoint, and decodes
    the answers with its own schemas."""
    options = gpudb.GPUdb.Options()
    options.timeout = 30
    db = gpudb.GPUdb(host=instant.url, options=options)
    try:
        for index, endpoint in enumerate(schemas.known_endpoints()):
            value = sample_request(endpoint)
            official_schema = db.gpudb_schemas[endpoint]["REQ_SCHEMA"]
            ours, _ = payload.encode_payload(payload.request_schema(endpoint), value, "binary")
            assert ours == db.encode_datum_cext(official_schema, payload.request_schema(endpoint).conform(value)), endpoint
            instant.primary.recorded.clear()
            created = db.create_job(endpoint, "binary", ours, "", {"job_tag": f"sample-{index}"})
            (_, _, body), = [entry for entry in instant.primary.recorded if entry[0] == "/create/job"]
            assert body == codec.encode_request("/create/job", {"endpoint": endpoint, "request_encoding": "binary", "data": ours,
                                                                "data_str": "", "options": {"job_tag": f"sample-{index}"}}, "binary")
            assert created.is_ok(), created.get_error_msg()
            job = db.get_job(created["job_id"])
            assert job["job_status"] == "DONE", endpoint
            decoded = db.gpudb_schemas[endpoint]["RSP_SCHEMA"].decode(job["job_response"])
            assert list(decoded) == schemas.endpoint(endpoint).response.field_names
            if endpoint == "/update/records":  # the union, both branches, as the emulator decoded them
                assert payload.to_json_value(instant.ring.jobs[f"sample-{index}"].request)["new_values_maps"] == \
                    [{"new_values_maps-ключ": "new_values_maps-é😀", "new_values_maps-null": None}]
            if endpoint == "/aggregate/groupby":
                columns = json.loads(decoded["response_schema_str"])
                assert [f["name"] for f in columns["fields"]][-2:] == ["column_headers", "column_datatypes"]
        assert index == 220
    finally:
        db.__exit__(None, None, None)


def test_gpudb_calls_endpoints_directly_on_the_emulator_in_every_encoding(instant):
    """Not only as jobs: gpudb's own methods run on the emulator, the union of /update/records
    in binary, JSON and snappy, and show_table's answer parses on gpudb's side (its type schemas)."""
    for encoding in ("BINARY", "JSON", "SNAPPY"):
        options = gpudb.GPUdb.Options()
        options.encoding, options.timeout = encoding, 30
        db = gpudb.GPUdb(host=instant.url, options=options)
        try:
            shown = db.show_table("cities")
            assert shown.is_ok() and shown["table_name"] == "cities" and shown["table_names"] == ["cities"]
            assert [column["name"] for column in json.loads(shown["type_schemas"][0])["fields"]] == ["id", "city", "temperature"]
            updated = db.update_records("cities", ["id = 5"], [{"city": "Edinburgh", "temperature": None}])
            assert updated.is_ok(), updated.get_error_msg()
        finally:
            db.__exit__(None, None, None)
