"""Every endpoint of the registry, in one test each way (not 221 parametrized ones): kjob
encodes a payload in each request encoding, the emulator (a real HTTP server) decodes it into
the same request and answers a response that decodes with the endpoint's schema; and the
official client gpudb runs a sample of endpoints on the emulator and reads the answers."""

from __future__ import annotations

import json

import gpudb
import pytest
import requests

from kjob.emulator import Emulator
from kjob.protocol import codec, payload, schemas

ENCODINGS = ("binary", "json", "snappy")


def sample_request(endpoint: str) -> dict:
    """The skeleton of `endpoint` with every required string filled in."""
    schema = schemas.endpoint(endpoint).request.schema
    value = payload.skeleton(schema)
    for field in schema["fields"]:
        if "default" not in field and field["type"] == "string":
            value[field["name"]] = f"{field['name']}-é"
    return value


@pytest.fixture
def instant():
    """An emulated cluster whose jobs end as soon as they start."""
    with Emulator(port=0, job_duration=0, record=True) as emu:
        yield emu


def post(session: requests.Session, url: str, endpoint: str, record: dict) -> dict:
    answer = session.post(url + endpoint, data=codec.encode_request(endpoint, record, "binary"),
                          headers={"Content-Type": codec.CONTENT_TYPES["binary"]}, timeout=10)
    return codec.decode_response(endpoint, answer.content, "binary")


def test_every_endpoint_in_every_encoding_through_the_emulator(instant):
    checked = 0
    with requests.Session() as session:
        for endpoint in schemas.known_endpoints():
            value = sample_request(endpoint)
            expected = payload.to_json_value(payload.request_schema(endpoint).conform(value))
            for encoding in ENCODINGS:
                data, data_str = payload.encode_payload(payload.request_schema(endpoint), value, encoding)
                tag = f"walk-{checked}"
                created = post(session, instant.url, "/create/job", {
                    "endpoint": endpoint, "request_encoding": encoding, "data": data, "data_str": data_str,
                    "options": {"job_tag": tag}})
                received = instant.ring.jobs[tag].request
                assert payload.to_json_value(received) == expected, (endpoint, encoding)
                job = post(session, instant.url, "/get/job", {"job_id": created["job_id"], "options": {}})
                assert job["job_status"] == "DONE", (endpoint, encoding, job["status_map"])
                assert job["response_encoding"] == ("json" if encoding == "json" else "binary")
                response = payload.read_job_response(job)
                if encoding == "json":  # the JSON form must be a valid record of the response schema
                    response = schemas.endpoint(endpoint).response.from_json_value(response)
                fields = schemas.endpoint(endpoint).response.field_names
                assert list(response) == fields, (endpoint, encoding)
                echoed = [name for name in fields if name in expected and name != "info" and response[name] == received[name]]
                if "table_name" in fields and "table_name" in expected:
                    assert "table_name" in echoed, endpoint  # fields named like request fields echo them
                checked += 1
    assert checked == 3 * len(schemas.known_endpoints()) == 663


def test_a_payload_that_does_not_decode_is_refused_as_a_server_would(emulator):
    with requests.Session() as session:
        answer = session.post(emulator.url + "/create/job", headers={"Content-Type": codec.CONTENT_TYPES["binary"]},
                              data=codec.encode_request("/create/job", {
                                  "endpoint": "/update/records", "request_encoding": "binary", "data": b"\x02t\x00\x02",
                                  "data_str": "", "options": {}}, "binary"), timeout=10)
    wrapped = codec.decode_wrapper(answer.content, "binary")
    assert answer.status_code == 400 and wrapped["status"] == "ERROR"
    assert wrapped["message"].startswith("Unable to parse the /update/records payload: malformed or truncated Avro")


SAMPLE = ("/update/records", "/aggregate/groupby", "/insert/records/fromfiles", "/create/projection",
          "/admin/rebalance", "/show/table", "/export/records/tofiles", "/get/records/bycolumn")


UNION_VALUES = {"expressions": ["id = 1"], "new_values_maps": [{"city": "Bergen", "temperature": None}]}


def test_gpudb_runs_any_endpoint_as_a_job_on_the_emulator(instant):
    """The official client submits kjob-encoded payloads (the same bytes as its own, a union
    included) in a /create/job that is byte for byte kjob's, and decodes the answers with its
    own schemas."""
    options = gpudb.GPUdb.Options()
    options.timeout = 30
    db = gpudb.GPUdb(host=instant.url, options=options)
    try:
        for index, endpoint in enumerate(SAMPLE):
            value = sample_request(endpoint)
            if endpoint == "/update/records":
                value.update(UNION_VALUES)
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
            if endpoint == "/update/records":
                assert payload.to_json_value(instant.ring.jobs[f"sample-{index}"].request)["new_values_maps"] == \
                    UNION_VALUES["new_values_maps"]
            if endpoint == "/aggregate/groupby":
                columns = json.loads(decoded["response_schema_str"])
                assert [f["name"] for f in columns["fields"]][-2:] == ["column_headers", "column_datatypes"]
    finally:
        db.__exit__(None, None, None)
