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
