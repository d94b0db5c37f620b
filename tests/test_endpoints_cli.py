"""kjob endpoints, submit --skeleton, payload validation and fetch of any endpoint, as a user runs them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

from conftest import created_jobs, run_cli, start

from kjob.protocol import schemas


def test_endpoints_lists_every_endpoint_one_a_line():
    result = run_cli(["endpoints"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == list(schemas.known_endpoints())
    assert len(result.stdout.splitlines()) == 221


def test_endpoints_by_substring_and_by_glob():
    assert run_cli(["endpoints", "records/from"]).stdout.splitlines() == [
        "/get/records/fromcollection", "/insert/records/fromfiles", "/insert/records/frompayload", "/insert/records/fromquery"]
    for glob in ("/show/system/*", "show/system/*"):  # the leading / is optional, as in the substring form
        assert run_cli(["endpoints", glob]).stdout.splitlines() == [
            "/show/system/properties", "/show/system/status", "/show/system/timing"]
    assert [json.loads(line) for line in run_cli(["endpoints", "/admin/re*", "--json"]).stdout.splitlines()][:2] == [
        {"endpoint": "/admin/rebalance"}, {"endpoint": "/admin/remove/host"}]


def test_endpoints_describes_an_exact_endpoint():
    result = run_cli(["endpoints", "/alter/table"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:6] == [
        "/alter/table",
        "request alter_table_request:",
        "  table_name  string       required",
        "  action      string       required",
        "  value       string       required",
        "  options     map<string>  default {}",
    ]
    assert result.stdout.splitlines()[6:8] == ["response alter_table_response:", "  table_name       string"]
    described = json.loads(run_cli(["endpoints", "/get/records/bycolumn", "--json"]).stdout)
    assert described["request"]["fields"][2] == {"name": "offset", "type": "long", "default": 0}
    assert described["request"]["fields"][0] == {"name": "table_name", "type": "string", "required": True}
    assert {"name": "binary_encoded_response", "type": "bytes"} in described["response"]["fields"]


def test_endpoints_with_no_match_is_a_usage_error():
    result = run_cli(["endpoints", "/alter/tabel"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "kjob: no endpoint matches '/alter/tabel' (did you mean /alter/table?)\n"


def test_a_skeleton_is_accepted_by_submit_file_as_it_is(emulator, tmp_path):
    for endpoint in ("/insert/records/fromfiles", "/admin/rebalance", "/update/records"):
        skeleton = run_cli(["submit", endpoint, "--skeleton"])
        assert skeleton.exit_code == 0
        assert json.loads(skeleton.stdout) == {
            f["name"]: f.get("default", json.loads(skeleton.stdout)[f["name"]])
            for f in schemas.endpoint(endpoint).request.schema["fields"]}
        path = tmp_path / "payload.json"
        path.write_text(skeleton.stdout)
        submitted = run_cli(["submit", endpoint, "--file", str(path), "--url", emulator.url, "-q"])
        assert submitted.exit_code == 0, submitted.stderr
    assert emulator.job_count() == 3
    assert json.loads(run_cli(["submit", "/alter/table", "--skeleton"]).stdout) == {
        "table_name": "", "action": "", "value": "", "options": {}}
    both = run_cli(["submit", "/alter/table", "--skeleton", "--data", "{}"])
    assert (both.exit_code, both.stdout) == (2, "")
    assert both.stderr == ("kjob: --skeleton prints a payload to fill in and sends nothing: "
                           "do not also give --data, --file or --avro\n")
    unknown = run_cli(["submit", "/show/widgets", "--skeleton"])
    assert (unknown.exit_code, unknown.stderr) == (2, "kjob: kjob has no request schema for /show/widgets: give --schema FILE "
                                                "(its Avro schema), or send the payload as JSON with --encoding json\n")


def test_scalars_in_a_string_map_become_the_strings_kinetica_expects(recording):
    data = {"table_name": "t", "filepaths": ["/data/a.csv"],
            "options": {"batch_size": 1000, "truncate_table": True, "ratio": 0.5, "mode": "x"}}
    result = run_cli(["submit", "/insert/records/fromfiles", "--url", recording.url, "-q", "--encoding", "json",
                      "--data", json.dumps(data)])
    assert result.exit_code == 0, result.stderr
    (job,) = created_jobs(recording)
    assert job["request"]["options"] == {"batch_size": "1000", "truncate_table": "true", "ratio": "0.5", "mode": "x"}


def test_bad_payloads_say_what_and_send_nothing(emulator):
    cases = {
        '{"tabel_name": "t", "action": "a", "value": ""}':
            "kjob: payload: unknown field 'tabel_name' (did you mean 'table_name'?)\n",
        '{"tabel_name": "t", "acton": "a", "value": ""}':
            "kjob: payload: unknown fields 'tabel_name' (did you mean 'table_name'?), 'acton' (did you mean 'action'?)\n",
        "{}": "kjob: table_name, action, value: required fields are missing\n",
        '{"table_name": "t", "action": "a", "value": "", "options": {"x": {"y": 1}}}':
            "kjob: options.x: expected a string, got dict\n",
    }
    for data, said in cases.items():
        result = run_cli(["submit", "/alter/table", "--url", emulator.url, "--data", data])
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", said)
    nested = run_cli(["submit", "/admin/add/ranks", "--url", emulator.url, "--data",
                      '{"hosts": ["h"], "config_params": [{"a": "1"}, {"b": []}]}'])
    assert (nested.exit_code, nested.stderr) == (2, "kjob: config_params[1].b: expected a string, got list\n")
    assert emulator.job_count() == 0


def test_fetch_rows_of_aggregate_groupby_and_the_whole_response(emulator):
    data = {"table_name": "cities", "column_names": ["city", "id"], "limit": 2, "options": {"emulator_duration": "0"}}
    for encoding in ("binary", "json"):
        tag = run_cli(["submit", "/aggregate/groupby", "--url", emulator.url, "-q", "--data",
                       json.dumps({**data, "encoding": encoding})]).stdout.strip()
        assert run_cli(["wait", tag, "--url", emulator.url, "-q"]).exit_code == 0
        csv_text = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv"]).stdout
        assert csv_text.splitlines() == ["city,id", "Amsterdam,1", "Boston,2"]
        whole = json.loads(run_cli(["fetch", tag, "--url", emulator.url, "--format", "response"]).stdout)
        assert whole["total_number_of_records"] == 2 and whole["has_more_records"] is False
        if encoding == "binary":  # bytes as base64 text, never raw binary characters
            assert base64.b64decode(whole["binary_encoded_response"]).startswith(b"\x04\x12Amsterdam")


def test_fetch_shows_a_plain_response_with_bytes_as_base64(emulator):
    data = {"table_name": "t", "options": {"emulator_duration": "0"}}
    tag = start(emulator.url, "/show/table", json.dumps(data))
    assert run_cli(["wait", tag, "--url", emulator.url, "-q"]).exit_code == 0
    shown = json.loads(run_cli(["fetch", tag, "--url", emulator.url]).stdout)
    assert shown["table_name"] == "t" and shown["table_names"] == ["t"]  # echoed, and named for the request field
    assert len(shown["type_ids"]) == 1  # parallel lists line up
    csv = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv"])
    assert csv.exit_code == 2
    assert csv.stderr == "kjob: --format csv is for responses with rows (such as /execute/sql); /show/table has none\n"


def test_submit_completes_endpoint_names():
    env = {**os.environ, "_KJOB_COMPLETE": "bash_complete", "COMP_WORDS": "kjob submit /alter/table/", "COMP_CWORD": "2"}
    out = subprocess.run([sys.executable, "-c", "from kjob.cli import main; main()"], env=env, capture_output=True,
                         text=True, timeout=30).stdout
    assert out.splitlines() == ["plain,/alter/table/columns", "plain,/alter/table/metadata"]


def test_an_insert_job_reports_what_it_did(emulator):
    data = {"table_name": "sales", "filepaths": ["kifs://data/sales.csv"], "options": {"emulator_duration": "0"}}
    tag = start(emulator.url, "/insert/records/fromfiles", json.dumps(data))
    assert run_cli(["wait", tag, "--url", emulator.url, "-q"]).exit_code == 0
    shown = json.loads(run_cli(["fetch", tag, "--url", emulator.url]).stdout)
    assert shown["table_name"] == "sales" and 1 <= shown["count_inserted"] <= 999
    assert shown["count_skipped"] == shown["count_updated"] == 0
    assert [f["name"] for f in json.loads(shown["type_definition"])["fields"]] == ["id", "city", "temperature"]
    again = start(emulator.url, "/insert/records/fromfiles", json.dumps(data))
    assert run_cli(["wait", again, "--url", emulator.url, "-q"]).exit_code == 0
    assert json.loads(run_cli(["fetch", again, "--url", emulator.url]).stdout) == shown  # deterministic
