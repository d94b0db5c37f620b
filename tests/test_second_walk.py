"""A second newcomer's walk: the same job named by several REFs, deadlines that cut calls,
seconds as people read them, and the words kjob prints."""

from __future__ import annotations

import json
import pathlib
import re
import socket

from conftest import alter, run_cli, run_kjob, sql, start

from kjob.config import seconds
from kjob.ops.wait import UNREACHABLE_GRACE

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_refs_naming_one_job_by_the_same_key_follow_it_once(emulator):
    start(emulator.url, "/alter/table", alter(0), "--tag", "cities-report", "--wait")
    refs = ["cities-report", "tag:cities-report", " cities-report"]
    waited = run_cli(["wait", *refs, "--url", emulator.url])
    assert waited.exit_code == 0, waited.stderr
    assert waited.stdout.splitlines() == ["job cities-report /alter/table: already DONE"]
    looked = run_cli(["status", *refs, "1", "1", "--url", emulator.url])
    assert looked.exit_code == 0, looked.stderr
    line = f"job 1  DONE  100%  /alter/table  tag cities-report  on {emulator.url}"
    assert looked.stdout.splitlines() == [line, line]  # by tag, then by id: not matched before a look
    cancelled = run_cli(["cancel", *refs, "--url", emulator.url])
    assert cancelled.exit_code == 0, cancelled.stderr
    assert len(cancelled.stdout.splitlines()) == 1, cancelled.stdout


def test_the_command_deadline_cutting_a_call_to_a_stalled_server_is_a_time_out(emulator):
    """--timeout ended the calls (not --http-timeout, not a refusal): exit 4, said as a time-out."""
    tag = start(emulator.url, "/alter/table", alter(0), "--wait")
    emulator.primary.faults.add("stall@/get/job")
    line = f"kjob: timed out after 1 s (--timeout): no answer from {emulator.url} to /get/job"
    for command in (["status", tag], ["fetch", tag], ["cancel", tag]):
        result = run_kjob([*command, "--url", emulator.url, "--timeout", "1", "--http-timeout", "30"])
        assert result.returncode == 4, (command, result.stderr)
        assert result.stderr.decode().splitlines() == [line], command
    waited = run_kjob(["wait", tag, "--url", emulator.url, "--timeout", "1", "--http-timeout", "30"])
    assert waited.returncode == 4, waited.stderr
    [outcome] = waited.stdout.decode().splitlines()
    assert re.fullmatch(rf"job {tag}: not seen \(waited (0\.\d|1\.\d) s\)", outcome), outcome
    assert waited.stderr.decode().splitlines() == [f"kjob: timed out; no answer about {tag}"]


def test_a_stall_cut_by_http_timeout_is_still_unreachable(emulator):
    tag = start(emulator.url, "/alter/table", alter(0), "--wait")
    emulator.primary.faults.add("stall@/get/job")
    result = run_kjob(["status", tag, "--url", emulator.url, "--timeout", "20", "--http-timeout", "0.5"])
    assert result.returncode == 7, result.stderr
    assert result.stderr.decode().splitlines()[-1:] == [
        f"kjob: no cluster answered /get/job (tried {emulator.url}: no complete answer within 0.5 s)"]


def test_seconds_are_shown_as_people_read_them():
    with socket.socket() as sock:  # a port nothing listens on (bound, then closed)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = run_kjob(["wait", "5", "--url", url, "--timeout", "0.8"])
    assert result.returncode == 7
    assert result.stderr.decode().splitlines() == [
        f"kjob: job 5 unreachable: no cluster answered /get/job: nothing is listening at {url} (connection refused); "
        "still trying until the deadline"]
    assert [seconds(value) for value in (0.855461, 1.0, 1.04, 12.6, 30.0)] == ["0.9", "1", "1", "13", "30"]


def test_a_job_that_ended_while_unreachable_is_not_already_done(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.3))
    emulator.primary.faults.add("http-503@/get/job*3")  # every try of the wait's first look fails
    result = run_kjob(["wait", tag, "--url", emulator.url])
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.decode().splitlines()
    assert re.fullmatch(rf"job {tag} /alter/table: DONE \(waited \d+\.\d s\)", line), line


def test_the_unreachable_grace_is_documented_as_it_is():
    help_text = " ".join(run_cli(["wait", "--help"]).stdout.split())
    assert f"tried again for {UNREACHABLE_GRACE:g} s (never past --timeout) before it counts as UNREACHABLE" in help_text
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"tried again for {UNREACHABLE_GRACE:g} s (the unreachable grace, never past `--timeout`)" in readme


def test_fetch_of_a_statement_with_no_result_set_shows_its_count(emulator):
    tag = start(emulator.url, "/execute/sql", sql(0, "INSERT INTO cities (id, city) VALUES (99, 'Oslo')"), "--wait")
    whole = run_cli(["fetch", tag, "--url", emulator.url])
    assert whole.exit_code == 0, whole.stderr
    assert json.loads(whole.stdout)["count_affected"] == 1
    assert whole.stdout.splitlines()[0] == '{"count_affected":1,"response_schema_str":"","binary_encoded_response":"",' \
        '"json_encoded_response":"","total_number_of_records":0,"has_more_records":false,"paging_table":"","info":{}}'
    for fmt in ("csv", "table"):
        result = run_cli(["fetch", tag, "--url", emulator.url, "--format", fmt])
        assert (result.exit_code, result.stdout) == (0, ""), result.stderr  # nothing, not an empty line
        assert result.stderr.splitlines() == [
            "kjob: the result has no rows; 1 affected (count_affected; --format json shows the whole response)"]


def test_a_payload_cannot_share_stdin_with_the_password(secured):
    for extra in ([], ["--file", "-"]):
        result = run_cli(["submit", "/execute/sql", "--url", secured.url, "--user", "alice", "--password-stdin", "-q",
                          *extra], input="s3cret-pw\n")
        assert result.exit_code == 2, result.stderr
        assert result.stderr.splitlines() == [
            "kjob: --password-stdin: stdin carried the password, so the payload must come from --data or --file PATH"]
    sent = run_cli(["submit", "/execute/sql", "--url", secured.url, "--user", "alice", "--password-stdin", "-q",
                    "--data", sql(0)], input="s3cret-pw\n")
    assert sent.exit_code == 0, sent.stderr


def test_the_help_says_what_the_readme_says():
    from kjob.cli import ENVIRONMENT

    help_text = run_cli(["--help"]).stdout.splitlines()
    assert "    0  success; the job is DONE (for status: the look succeeded and the job is RUNNING or DONE)" in help_text
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("| variable | option | meaning |"):].split("\n\n")[0].splitlines()[2:]
    assert [re.match(r"\| `([A-Z_]+)`", row).group(1) for row in table] == list(ENVIRONMENT)
    environment = help_text[help_text.index("Environment:") + 1:]
    assert [line.split()[0] for line in environment[:len(ENVIRONMENT)]] == list(ENVIRONMENT)
    options = " ".join(run_cli(["status", "--help"]).stdout.split())
    assert "--http-timeout DURATION Seconds one HTTP call may take. [env var: KJOB_HTTP_TIMEOUT; default: 30.0]" in options


def test_an_all_digit_tag_beside_an_id_is_printed_as_its_ref(emulator):
    submitted = run_cli(["submit", "/alter/table", "--tag", "3", "--url", emulator.url, "--data", alter(30)])
    assert submitted.stdout.splitlines() == [f"job 1 submitted: /alter/table, tag:3, on {emulator.url}"]
    looked = run_cli(["status", "tag:3", "--url", emulator.url])
    [line] = looked.stdout.splitlines()
    assert re.fullmatch(rf"job 1  RUNNING  +\d+%  /alter/table  tag:3  on {re.escape(emulator.url)}", line), line
    cancelled = run_cli(["cancel", "tag:3", "--url", emulator.url])
    assert cancelled.stdout.splitlines() in (["job 1 (tag:3): CANCELLED"], ["job 1 (tag:3): still RUNNING after the cancel"])
