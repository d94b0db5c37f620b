"""kjob submit and kjob status against the emulator, through click's runner and as a subprocess."""

from __future__ import annotations

import json

import gpudb
import pytest
import snappy
from conftest import created_jobs, run_cli, run_kjob
from screen import run_in_pty

from kjob.emulator import Emulator

ALTER = {"table_name": "sales_2026", "action": "refresh", "value": "v"}
ALTER_FULL = {**ALTER, "options": {}}
SQL = {"statement": "SELECT * FROM cities", "options": {"emulator_duration": "0.1"}}
SQL_FULL = {"statement": "SELECT * FROM cities", "offset": 0, "limit": -9999, "encoding": "binary",
            "request_schema_str": "", "data": [], "options": {"emulator_duration": "0.1"}}
ENCODINGS = ["binary", "json", "snappy"]


def submit(url: str, *args: str, input: str | None = None):
    return run_cli(["submit", "--url", url, *args], input=input)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("source", ["data", "file", "file-dash", "piped"])
def test_every_source_and_encoding_reaches_the_server_as_the_same_request(recording, tmp_path, encoding, source):
    text = json.dumps(ALTER)
    path = tmp_path / "payload.json"
    path.write_text(text)
    args = {"data": ["--data", text], "file": ["--file", str(path)], "file-dash": ["--file", "-"], "piped": []}[source]
    stdin = text if source in ("file-dash", "piped") else None
    result = submit(recording.url, "/alter/table", "--encoding", encoding, "--json", *args, input=stdin)
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) >= {"job_id", "job_tag", "endpoint", "query_id", "cluster"}
    (job,) = created_jobs(recording)
    assert (job["request_encoding"], job["options"]["job_tag"]) == (encoding, created["job_tag"])
    assert job["request"] == ALTER_FULL


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("endpoint, payload, full", [("/alter/table", ALTER, ALTER_FULL), ("/execute/sql", SQL, SQL_FULL)])
def test_submit_sends_the_bytes_gpudb_sends(encoding, endpoint, payload, full):
    """The /create/job body kjob sends equals the body of gpudb's create_job for the same job."""
    with Emulator(port=0, record=True, job_duration=0.05) as theirs, Emulator(port=0, record=True, job_duration=0.05) as ours:
        db = gpudb.GPUdb(host=theirs.url)
        avro = db.gpudb_schemas[endpoint]["REQ_SCHEMA"].encode(full)
        data, data_str = {"binary": (avro, ""), "snappy": (snappy.compress(avro), ""), "json": (b"", json.dumps(full))}[encoding]
        db.create_job(endpoint, encoding, data, data_str, {"job_tag": "same-tag-1"})
        result = submit(ours.url, endpoint, "--encoding", encoding, "--tag", "same-tag-1", "--data", json.dumps(payload))
        assert result.exit_code == 0, result.stderr
        (_, their_headers, their_body), = [r for r in theirs.primary.recorded if r[0] == "/create/job"]
        (_, our_headers, our_body), = [r for r in ours.primary.recorded if r[0] == "/create/job"]
        assert our_body == their_body
        for header in ("content-type", "accept"):
            assert our_headers[header] == their_headers[header] == "application/octet-stream"
        assert our_headers["user-agent"].startswith("kjob/")


@pytest.mark.parametrize("wire", ENCODINGS)
def test_status_sends_the_bytes_gpudb_sends_in_every_wire_encoding(wire):
    with Emulator(port=0, record=True, job_duration=0.05) as emu:
        options = gpudb.GPUdb.Options()
        options.encoding = wire.upper()
        db = gpudb.GPUdb(host=emu.url, options=options)
        job_id = db.create_job("/alter/table", "json", b"", json.dumps(ALTER_FULL), {"job_tag": "w1"})["job_id"]
        db.get_job(job_id)
        result = run_cli(["status", str(job_id), "--url", emu.url, "--wire", wire])
        assert result.exit_code == 0, result.stderr
        bodies = [(headers["content-type"], body) for path, headers, body in emu.primary.recorded if path == "/get/job"]
        assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_submit_quiet_prints_one_ref_that_status_accepts(emulator):
    result = submit(emulator.url, "/alter/table", "-q", "--data", json.dumps(ALTER))
    assert result.exit_code == 0
    tag = result.stdout.strip()
    assert "\n" not in tag and tag == result.stdout.rstrip("\n")
    assert run_cli(["status", tag, "--url", emulator.url, "-q"]).stdout.strip() in ("RUNNING", "DONE")


def test_submit_human_output_names_job_tag_and_endpoint(emulator):
    result = submit(emulator.url, "/alter/table", "--tag", "nightly-1", "--data", json.dumps(ALTER))
    assert result.exit_code == 0
    assert result.stdout == f"job 1 submitted: /alter/table, tag nightly-1, on {emulator.url}\n"


def test_tag_from_payload_submits_once(emulator):
    args = ["/alter/table", "--tag-from-payload", "--tag-key", "2026-11-23", "--if-exists", "reuse", "--json",
            "--data", json.dumps(ALTER)]
    first, second = submit(emulator.url, *args), submit(emulator.url, *args)
    assert first.exit_code == second.exit_code == 0
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["job_tag"] == two["job_tag"] and one["job_id"] == two["job_id"]
    assert (one["existed"], two["existed"]) == (False, True)
    assert emulator.job_count() == 1
    other_day = submit(emulator.url, *[a if a != "2026-11-23" else "2026-11-24" for a in args])
    assert json.loads(other_day.stdout)["job_tag"] != one["job_tag"]


def test_a_tag_in_use_fails_with_exit_8_by_default(emulator):
    assert submit(emulator.url, "/alter/table", "--tag", "t-dup", "--data", json.dumps(ALTER)).exit_code == 0
    again = submit(emulator.url, "/alter/table", "--tag", "t-dup", "--data", json.dumps(ALTER))
    assert again.exit_code == 8
    assert again.stderr == (f"kjob: server refused /create/job on {emulator.url}: Job tag 't-dup' already exists "
                            "(tag 't-dup' already names a job; --if-exists reuse reports that job instead)\n")
    assert emulator.job_count() == 1


def test_unknown_endpoint_goes_as_json_or_with_a_schema(recording, tmp_path):
    refused = submit(recording.url, "/show/widgets", "--data", "{}")
    assert (refused.exit_code, refused.stderr) == (2, "kjob: kjob has no request schema for /show/widgets: give --schema FILE "
                                                "(its Avro schema), or send the payload as JSON with --encoding json\n")
    schema = {"type": "record", "name": "alter_table_request", "fields": [
        {"name": "table_name", "type": "string"}, {"name": "action", "type": "string"},
        {"name": "value", "type": "string"}, {"name": "options", "type": {"type": "map", "values": "string"}}]}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    with_schema = submit(recording.url, "/alter/table", "--schema", str(path), "--data", json.dumps(ALTER_FULL), "--json")
    assert with_schema.exit_code == 0, with_schema.stderr
    assert [job["request"] for job in created_jobs(recording)] == [ALTER_FULL]


def test_avro_payload_goes_as_is(recording, tmp_path):
    db = gpudb.GPUdb(host=recording.url)
    avro = db.gpudb_schemas["/alter/table"]["REQ_SCHEMA"].encode(ALTER_FULL)
    path = tmp_path / "payload.avro"
    path.write_bytes(avro)
    for encoding in ("binary", "snappy"):
        result = submit(recording.url, "/alter/table", "--avro", str(path), "--encoding", encoding, "--json")
        assert result.exit_code == 0, result.stderr
        job = created_jobs(recording)[-1]
        assert (job["request"], job["request_encoding"]) == (ALTER_FULL, encoding)
        assert encoding != "binary" or job["data"] == avro  # the file's bytes, not re-encoded


BAD_PAYLOADS = [
    (["--data", '{"table_name": "t",'],
     "--data is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 20"),
    (["--data", '{"table_name": 5, "action": "a", "value": ""}'], "table_name: expected a string, got int"),
    (["--data", '{"action": "a", "value": ""}'], "table_name: required field is missing"),
    (["--data", '{"table_name": "t", "action": "a", "value": "", "colour": "red"}'],
     "payload: unknown field 'colour' (not in alter_table_request)"),
    (["--data", ""], "--data is empty: expected a JSON object"),
    (["--data", "{}", "--file", "x.json"], "give the payload once: --data or --file, not both"),
    (["--tag", "bad tag", "--data", "{}"], "tag 'bad tag' may hold only letters, digits, '_' and '-'"),
    (["--file", "/nonexistent/payload.json"], "payload: cannot read /nonexistent/payload.json: No such file or directory"),
    (["--file", "/"], "payload: / is a directory, not a file"),
]


@pytest.mark.parametrize("args, said", BAD_PAYLOADS)
def test_bad_input_is_one_line_exit_2_and_nothing_sent(args, said):
    with Emulator(port=0, record=True) as emu:
        result = submit(emu.url, "/alter/table", *args)
        assert (result.exit_code, result.stderr) == (2, f"kjob: {said}\n")
        assert result.stdout == ""
        assert emu.primary.recorded == []


def test_status_by_id_and_by_tag(emulator):
    created = json.loads(submit(emulator.url, "/alter/table", "--tag", "look-1", "--json", "--data", json.dumps(ALTER)).stdout)
    for ref in (str(created["job_id"]), "look-1", "tag:look-1"):
        result = run_cli(["status", ref, "--url", emulator.url, "--json"])
        assert result.exit_code == 0
        state = json.loads(result.stdout)
        assert state["job_tag"] == "look-1" and state["job_id"] == created["job_id"]
        assert state["endpoint"] == "/alter/table" and state["cluster"] == emulator.url
        assert set(state) == {"job_id", "job_tag", "endpoint", "job_status", "running", "progress", "successful",
                              "response_encoding", "status_map", "info", "cluster"}


def test_status_exit_codes_follow_the_job(emulator):
    def job(tag, outcome):
        payload = {**ALTER, "options": {"emulator_outcome": outcome, "emulator_duration": "0", "emulator_error_message": "disk full"}}
        assert submit(emulator.url, "/alter/table", "--tag", tag, "--data", json.dumps(payload)).exit_code == 0

    job("ok-1", "done")
    job("bad-1", "error")
    job("gone-1", "cancelled")
    assert run_cli(["status", "ok-1", "--url", emulator.url]).exit_code == 0
    failed = run_cli(["status", "bad-1", "--url", emulator.url])
    assert (failed.exit_code, failed.stdout, failed.stderr) == (
        1, f"job 2  ERROR   60%  /alter/table  tag bad-1  on {emulator.url}\n  error: disk full\n",
        "kjob: job bad-1 ended in ERROR: disk full\n")
    assert run_cli(["status", "gone-1", "--url", emulator.url]).exit_code == 3
    missing = run_cli(["status", "424242", "--url", emulator.url])
    assert (missing.exit_code, missing.stderr) == (
        5, f"kjob: job 424242 not found on {emulator.url} (looked up by id): Job 424242 not found\n")
    assert run_cli(["status", "ok-1", "bad-1", "gone-1", "--url", emulator.url]).exit_code == 1
    assert run_cli(["status", "ok-1", "gone-1", "424242", "--url", emulator.url]).exit_code == 5


def test_status_of_several_jobs_as_json_lines(emulator):
    for tag in ("a-1", "a-2"):
        submit(emulator.url, "/alter/table", "--tag", tag, "--data", json.dumps(ALTER))
    result = run_cli(["status", "a-1", "a-2", "--url", emulator.url, "--json"])
    assert [json.loads(line)["job_tag"] for line in result.stdout.splitlines()] == ["a-1", "a-2"]


def test_status_when_the_server_refuses(emulator):
    emulator.primary.faults.add("refuse@/get/job")
    result = run_cli(["status", "1", "--url", emulator.url])
    assert (result.exit_code, result.stderr) == (8, f"kjob: server refused /get/job on {emulator.url}: Emulated refusal\n")


def test_no_cluster_reachable_is_exit_7_naming_the_cluster():
    result = run_kjob(["status", "1", "--url", "http://127.0.0.1:9", "--http-timeout", "2"])
    assert result.returncode == 7
    assert result.stderr.decode() == (
        "kjob: no cluster answered /get/job: nothing is listening at http://127.0.0.1:9 (connection refused); give your "
        "cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator\n")


def test_credentials_refused_is_exit_6_without_failover(secured):
    result = run_cli(["status", "1", "--url", secured.url], env={"KJOB_USER": "alice", "KJOB_PASSWORD": "wrong"})
    assert (result.exit_code, result.stderr) == (
        6, f"kjob: credentials refused by {secured.url} (HTTP 401): check KJOB_USER and KJOB_PASSWORD, or KJOB_TOKEN\n")


@pytest.mark.parametrize("env", [
    {"KJOB_USER": "alice", "KJOB_PASSWORD": "s3cret-pw"},
    {"KI_USER": "alice", "KI_PWD": "s3cret-pw"},
    {"KJOB_TOKEN": "tok-123-secret"},
    {"KI_OAUTH_TOKEN": "tok-123-secret"},
])
def test_credentials_from_kjob_and_kinetica_variables(secured, env):
    result = run_cli(["submit", "/alter/table", "--url", secured.url, "--data", json.dumps(ALTER)], env=env)
    assert result.exit_code == 0, result.stderr


def test_password_from_stdin(secured):
    result = run_cli(["status", "1", "--url", secured.url, "--user", "alice", "--password-stdin"], input="s3cret-pw\n")
    assert result.exit_code == 5  # authenticated; there is simply no job 1


def test_secrets_never_appear_in_any_output(secured):
    """--verbose traces of calls that succeed and fail carry neither the password nor the token."""
    env = {"KJOB_USER": "alice", "KJOB_PASSWORD": "s3cret-pw", "KJOB_TOKEN": "tok-123-secret"}
    runs = [
        ["submit", "/alter/table", "--data", json.dumps(ALTER), "-v"],
        ["status", "1", "-v"],
        ["status", "1", "-v", "--url", "http://alice:s3cret-pw@127.0.0.1:9", "--http-timeout", "1"],
    ]
    for args in runs:
        full = args if "--url" in args else [*args, "--url", secured.url]
        result = run_kjob(full, env=env)
        output = result.stdout + result.stderr
        assert b"Authorization: Bearer <redacted>" in result.stderr
        assert b"s3cret-pw" not in output and b"tok-123-secret" not in output
        assert b"Traceback" not in output


def test_url_with_a_path_prefix(emulator):
    result = submit(emulator.url + "/gpudb-0", "/alter/table", "--json", "--data", json.dumps(ALTER))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("url, said", [
    ("localhost:9191", "kjob: cluster URL 'localhost:9191' has no scheme: write http://localhost:9191 or https://..."),
    ("http://localhost:99999", "kjob: cluster URL 'http://localhost:99999' has a bad port (a number from 1 to 65535)"),
    ("ftp://localhost", "kjob: cluster URL 'ftp://localhost': the scheme must be http or https"),
])
def test_bad_urls_are_exit_2(url, said):
    result = run_cli(["status", "1", "--url", url])
    assert (result.exit_code, result.stderr) == (2, said + "\n")


def test_urls_from_kjob_url_comma_separated(ring):
    ring.primary.stop()
    env = {"KJOB_URL": f"{ring.primary.url},{ring.backup.url}"}
    result = run_cli(["submit", "/alter/table", "--json", "--data", json.dumps(ALTER)], env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cluster"] == ring.backup.url


def test_profile_supplies_url_and_options_give_way(emulator, tmp_path):
    config = tmp_path / "kjob.toml"
    config.write_text(f'default_profile = "dev"\n[profiles.dev]\nurl = ["{emulator.url}"]\n'
                      '[profiles.broken]\nurl = "http://127.0.0.1:9"\n')
    env = {"KJOB_CONFIG": str(config)}
    assert run_cli(["submit", "/alter/table", "--data", json.dumps(ALTER)], env=env).exit_code == 0
    assert run_cli(["status", "1", "--profile", "broken", "--http-timeout", "1"], env=env).exit_code == 7
    assert run_cli(["status", "1", "--profile", "broken", "--url", emulator.url], env=env).exit_code == 0
    unknown = run_cli(["status", "1", "--profile", "nope"], env=env)
    assert (unknown.exit_code, unknown.stderr) == (2, f"kjob: unknown profile 'nope' in {config} (profiles: broken, dev)\n")


def test_malformed_config_names_file_and_line(tmp_path):
    config = tmp_path / "kjob.toml"
    config.write_text('[profiles.dev]\nurl = "http://x:1"\nuser = \n')
    result = run_cli(["status", "1"], env={"KJOB_CONFIG": str(config)})
    assert (result.exit_code, result.stderr) == (
        2, f"kjob: config file {config} is not valid TOML: Invalid value (at line 3, column 8)\n")


def test_subprocess_exit_codes_and_one_line_errors(emulator):
    bad = run_kjob(["submit", "/alter/table", "--url", emulator.url, "--data", "{oops"])
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().count("\n") == 1
    good = run_kjob(["submit", "/alter/table", "--url", emulator.url, "-q", "--data", json.dumps(ALTER)])
    assert good.returncode == 0
    assert run_kjob(["status", good.stdout.decode().strip(), "--url", emulator.url]).returncode == 0


def test_password_prompt_on_a_terminal(secured):
    """With a user and no password, kjob asks on the terminal, without echo, and uses the answer."""
    code, screen = run_in_pty(["status", "no-such-job", "--url", secured.url], env={"KJOB_USER": "alice"},
                              answer=(b"Password for alice", b"s3cret-pw\n"))
    assert code == 5, screen  # authenticated: the job simply does not exist
    assert "s3cret-pw" not in screen
    assert screen.splitlines()[-1] == (f"kjob: job no-such-job not found on {secured.url} (looked up by tag no-such-job):"
                                       " Job with tag 'no-such-job' not found")
