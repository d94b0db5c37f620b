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
