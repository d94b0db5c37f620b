"""A newcomer's walk of kjob: the problems it found, each seen as a user sees it."""

from __future__ import annotations

import json

from conftest import run_cli


def test_arrays_without_a_default_are_required(emulator):
    result = run_cli(["submit", "/update/records", "--url", emulator.url, "--data", "{}"])
    assert (result.exit_code, result.stderr) == (2, "kjob: table_name, expressions, new_values_maps: required fields are missing\n")
    result = run_cli(["submit", "/aggregate/groupby", "--url", emulator.url, "--data", '{"table_name": "t"}'])
    assert (result.exit_code, result.stderr) == (2, "kjob: column_names: required field is missing\n")


def test_the_skeleton_is_what_the_validator_takes_list_encoding_as_gpudb_sends_it(emulator):
    skeleton = json.loads(run_cli(["submit", "/insert/records", "--skeleton"]).stdout)
    assert skeleton == {"table_name": "", "list": [], "list_str": [], "list_encoding": "binary", "options": {}}
    result = run_cli(["submit", "/insert/records", "-q", "--url", emulator.url, "--data", '{"table_name": "t"}'])
    assert (result.exit_code, result.stderr) == (0, "")


def test_scalars_become_strings_in_a_map_of_string_or_null_and_floats_keep_their_integer_text(emulator):
    data = {"table_name": "t", "expressions": ["id = 1"],
            "new_values_maps": [{"b": 1, "c": True, "d": 1e3, "e": None, "f": 2.5, "g": 1e20, "h": "x"}],
            "options": {"batch_size": 1e3, "ratio": 0.1}}
    for encoding in ("binary", "json"):
        result = run_cli(["submit", "/update/records", "--url", emulator.url, "-q", "--encoding", encoding,
                          "--data", json.dumps(data)])
        assert (result.exit_code, result.stderr) == (0, "")
    for job in emulator.ring.jobs.values():
        assert job.request["new_values_maps"] == [{"b": "1", "c": "true", "d": "1000", "e": None, "f": "2.5",
                                                   "g": "100000000000000000000", "h": "x"}]
        assert job.request["options"] == {"batch_size": "1000", "ratio": "0.1"}
    assert len(emulator.ring.jobs) == 2


def test_a_default_written_out_or_left_out_gives_the_same_tag_from_payload(emulator):
    tags = set()
    for data in ('{"table_name":"sales","action":"refresh","value":""}',
                 '{"value":"","options":{},"action":"refresh","table_name":"sales"}'):
        result = run_cli(["submit", "/alter/table", "-q", "--tag-from-payload", "--if-exists", "reuse",
                          "--url", emulator.url, "--data", data])
        assert (result.exit_code, result.stderr) == (0, "")
        tags.add(result.stdout)
    assert len(tags) == 1 and len(emulator.ring.jobs) == 1


def test_dash_output_is_stdout_and_an_empty_name_is_a_usage_error(emulator, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    tag = run_cli(["submit", "/execute/sql", "-q", "--url", emulator.url, "--data",
                   '{"statement": "SELECT id FROM cities ORDER BY id LIMIT 2"}']).stdout.strip()
    result = run_cli(["fetch", tag, "--wait", "--url", emulator.url, "--format", "csv", "-o", "-"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "id\n1\n2\n", "")
    assert list((tmp_path / "work").iterdir()) == []
    result = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv", "-o", ""])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", "kjob: -o needs a file name (or - for stdout)\n")


def test_history_n_0_prints_nothing_and_n_counts_from_the_newest(emulator):
    tags = [run_cli(["submit", "/execute/sql", "-q", "--url", emulator.url, "--data", '{"statement": "SELECT 1"}']).stdout.strip()
            for _ in range(3)]
    result = run_cli(["history", "-n", "0"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert [line.split()[-1] for line in run_cli(["history", "-n", "2"]).stdout.splitlines()] == tags[1:]
    assert [line.split()[-1] for line in run_cli(["history", "-n", "5"]).stdout.splitlines()] == tags


def test_kjobs_own_refusal_of_a_taken_tag_is_not_worded_as_the_servers(emulator):
    sql = '{"statement": "SELECT 1"}'
    assert run_cli(["submit", "/execute/sql", "-q", "--tag", "t3", "--url", emulator.url, "--data", sql]).exit_code == 0
    result = run_cli(["submit", "/alter/table", "--tag", "t3", "--if-exists", "reuse", "--url", emulator.url,
                      "--data", '{"table_name": "sales", "action": "refresh", "value": ""}'])
    assert (result.exit_code, result.stdout) == (8, "")
    assert result.stderr == (f"kjob: tag 't3' already names job 1 on {emulator.url}, which runs /execute/sql, not /alter/table: "
                             "--if-exists reuse reports only the same job; choose another tag\n")


def test_an_endpoint_in_capitals_gets_a_did_you_mean():
    result = run_cli(["submit", "/EXECUTE/SQL", "--url", "http://127.0.0.1:9", "--data", "{}"])
    assert (result.exit_code, result.stderr) == (2, "kjob: kjob has no request schema for /EXECUTE/SQL (did you mean "
                                                    "/execute/sql?): give --schema FILE (its Avro schema), or send the "
                                                    "payload as JSON with --encoding json\n")


def test_data_at_file_that_does_not_parse_hints_at_file():
    result = run_cli(["submit", "/execute/sql", "--url", "http://127.0.0.1:9", "--data", "@r.json"])
    assert (result.exit_code, result.stderr) == (2, "kjob: --data is not valid JSON: Expecting value at line 1, column 1 "
                                                    "(to read the payload from r.json, use --file r.json)\n")


def test_a_bad_timeout_in_the_environment_names_the_variable():
    result = run_cli(["status", "1", "--url", "http://127.0.0.1:9"], env={"KJOB_HTTP_TIMEOUT": "nan"})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == ("Error: Invalid value for '--http-timeout' (env var: 'KJOB_HTTP_TIMEOUT'): 'nan' is not "
                                              "a duration: write seconds (90, 0.5) or 90s, 5m, 1h30m")
    result = run_cli(["status", "1", "--url", "http://127.0.0.1:9", "--http-timeout", "nan"])
    assert result.stderr.splitlines()[-1] == ("Error: Invalid value for '--http-timeout' (env var: 'KJOB_HTTP_TIMEOUT'): 'nan' is not "
                                              "a duration: write seconds (90, 0.5) or 90s, 5m, 1h30m")
