"""kjob wait and kjob fetch against the emulator: outcomes, displays, deadlines, interrupts, output files."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import gpudb
import pytest
from conftest import alter, get_job, run_cli, run_kjob, sql, start, wait_for
from screen import run_in_pty

from kjob.emulator import Emulator

ANSI = re.compile(r"\x1b\[")


@pytest.mark.parametrize("outcomes, code", [
    (["done", "done"], 0),
    (["done", "error"], 1),
    (["done", "cancelled"], 3),
    (["cancelled", "error", "done"], 1),
])
def test_wait_exits_with_the_worst_outcome(emulator, outcomes, code):
    tags = [start(emulator.url, "/alter/table", alter(0.1 + 0.1 * i, outcome)) for i, outcome in enumerate(outcomes)]
    result = run_cli(["wait", *tags, "--url", emulator.url, "--json", "--interval", "0.2"])
    assert result.exit_code == code
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["job_tag"] for r in records) == sorted(tags)
    expected = {"done": "DONE", "error": "ERROR", "cancelled": "CANCELLED"}
    assert {r["job_tag"]: r["job_status"] for r in records} == {t: expected[o] for t, o in zip(tags, outcomes, strict=True)}
    assert all(r["exit_code"] == {"DONE": 0, "ERROR": 1, "CANCELLED": 3}[r["job_status"]] for r in records)


def test_wait_mixes_ids_and_tags_and_a_missing_job(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.1))
    job_id = json.loads(run_cli(["status", tag, "--url", emulator.url, "--json"]).stdout)["job_id"]
    result = run_cli(["wait", str(job_id), tag, "--url", emulator.url, "--json"])
    assert result.exit_code == 0
    assert [json.loads(line)["job_id"] for line in result.stdout.splitlines()] == [job_id, job_id]


def test_a_job_that_never_appears_is_not_found_after_the_grace(emulator):
    started = time.monotonic()
    result = run_cli(["wait", "no-such-job", "--url", emulator.url, "--json", "--not-found-grace", "0.5"])
    assert result.exit_code == 5
    assert json.loads(result.stdout)["exit_code"] == 5
    assert 0.5 <= time.monotonic() - started < 5


def test_a_tag_not_yet_on_the_backup_is_waited_for():
    with Emulator(port=0, backup_port=0, job_duration=0.1, replication_delay=0.6) as ring:
        tag = start(ring.url, "/alter/table", alter(0.1))
        result = run_cli(["wait", tag, "--url", ring.backup.url, "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["cluster"] == ring.backup.url


def test_plain_output_off_a_terminal_has_no_ansi_no_carriage_returns_and_a_line_per_change(emulator):
    # Long enough that the subprocess is surely up before they end, even on a loaded machine.
    tags = [start(emulator.url, "/alter/table", alter(2.0)), start(emulator.url, "/alter/table", alter(1.8, "error"))]
    result = run_kjob(["wait", *tags, "--url", emulator.url, "--log-every", "100"], env={"TERM": "xterm-256color"})
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert not ANSI.search(stderr) and "\r" not in stderr
    lines = stderr.splitlines()
    outcomes = result.stdout.decode().splitlines()  # the outcome of each job is data, on stdout
    assert not ANSI.search(result.stdout.decode()) and len(outcomes) == 2
    for tag, final in zip(tags, ("DONE", "ERROR"), strict=True):
        mine = [line for line in lines if tag in line and "ended in" not in line]
        assert [re.search(r": (RUNNING|DONE|ERROR)", line).group(1) for line in mine] == ["RUNNING"]
        assert re.fullmatch(rf"job {tag} /alter/table: {final} \(waited \d\.\d s\)" + (": disk full" if final == "ERROR" else ""),
                            next(line for line in outcomes if tag in line))
    assert lines[-1] == "kjob: 1 DONE, 1 ERROR"


def test_quiet_prints_only_errors(emulator):
    ok = start(emulator.url, "/alter/table", alter(0.1))
    bad = start(emulator.url, "/alter/table", alter(0.1, "error"))
    result = run_kjob(["wait", ok, bad, "-q", "--url", emulator.url])
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [f"kjob: job {bad} ended in ERROR: disk full"]


def test_progress_lines_at_most_every_log_every_seconds(emulator):
    tag = start(emulator.url, "/alter/table", alter(2.0))
    result = run_kjob(["wait", tag, "--url", emulator.url, "--interval", "0.1", "--log-every", "0.5"])
    running = [line for line in result.stderr.decode().splitlines() if "RUNNING" in line]
    assert 2 <= len(running) <= 5  # about one line every 0.5 s of a 2 s job, not one per 0.1 s poll


def test_no_color_and_dumb_terminals_get_no_bars(emulator):
    tag = start(emulator.url, "/alter/table", alter(0.1))
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        result = run_kjob(["wait", tag, "--url", emulator.url], env=env)
        assert result.returncode == 0 and not ANSI.search(result.stderr.decode())


def test_bars_in_a_real_terminal_and_every_outcome_on_the_final_screen(emulator):
    tags = [start(emulator.url, "/execute/sql", sql(1.0)),
            start(emulator.url, "/alter/table", alter(0.8, "error", "disk full")),
            start(emulator.url, "/alter/table", alter(0.6, "cancelled"))]
    code, screen = run_in_pty(["wait", *tags, "--url", emulator.url, "--interval", "0.2"])
    assert code == 1
    assert "━" in screen and "%" in screen  # rich's bars were drawn
    assert "\x1b[" in screen  # with colour and cursor movement
    assert "all 3 jobs" in screen
    final = screen[screen.rindex("job "):]  # the summary table after the bars
    for tag, status in zip(tags, ("DONE", "ERROR", "CANCELLED"), strict=True):
        assert re.search(re.escape(tag) + r".*" + status, final), (tag, status)
    assert "disk full" in final


def test_timeout_stops_waiting_and_says_what_still_runs(emulator):
    slow = start(emulator.url, "/alter/table", alter(5))
    quick = start(emulator.url, "/alter/table", alter(0.1))
    started = time.monotonic()
    result = run_cli(["wait", slow, quick, "--url", emulator.url, "--timeout", "0.8", "--json"])
    assert time.monotonic() - started < 4
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-2:] == ["kjob: 1 still running, 1 DONE", result.stderr.splitlines()[-1]]
    assert re.fullmatch(rf"kjob: timed out; still running on the server: {slow} \(\d+%\)", result.stderr.splitlines()[-1])
    records = [json.loads(line) for line in result.stdout.splitlines()]  # as they ended, then those still running
    assert [(record["job_tag"], record["job_status"], record["exit_code"]) for record in records] == [
        (quick, "DONE", 0), (slow, "RUNNING", 4)]
    assert get_job(emulator.url, tag=slow)["job_status"] == "RUNNING"


def test_timeout_zero_looks_once(emulator):
    tag = start(emulator.url, "/alter/table", alter(5))
    assert run_cli(["wait", tag, "--url", emulator.url, "--timeout", "0"]).exit_code == 4
    done = start(emulator.url, "/alter/table", alter(0))
    assert run_cli(["wait", done, "--url", emulator.url, "--timeout", "0"]).exit_code == 0


def test_fail_fast_stops_at_the_first_bad_end(emulator):
    slow = start(emulator.url, "/alter/table", alter(5))
    bad = start(emulator.url, "/alter/table", alter(0.2, "error"))
    started = time.monotonic()
    result = run_cli(["wait", slow, bad, "--url", emulator.url, "--fail-fast"])
    assert result.exit_code == 1 and time.monotonic() - started < 4


def interrupt_wait(emulator, *extra: str) -> tuple[subprocess.Popen, str, str]:
    tag = start(emulator.url, "/alter/table", alter(30))
    process = subprocess.Popen([sys.executable, "-m", "kjob", "wait", tag, "--url", emulator.url, "--progress", "plain",
                                *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stderr.readline().decode()  # the first look has been taken
    assert "RUNNING" in first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    return process, tag, first + stderr.decode()


def test_ctrl_c_leaves_the_job_running_and_ends_by_sigint(emulator):
    process, tag, stderr = interrupt_wait(emulator)
    assert process.returncode == -signal.SIGINT
    assert "go on" in stderr and tag in stderr and "Traceback" not in stderr
    assert get_job(emulator.url, tag=tag)["job_status"] == "RUNNING"


def test_cancel_on_interrupt_cancels_the_job(emulator):
    process, tag, stderr = interrupt_wait(emulator, "--cancel-on-interrupt")
    assert process.returncode == -signal.SIGINT and f"cancelled {tag}: cancel requested" in stderr and "Traceback" not in stderr
    # Kinetica stops a job at its next checkpoint: the cancel lands a moment later.
    status = run_cli(["status", tag, "--url", emulator.url, "--json"])
    deadline = time.monotonic() + 5
    while json.loads(status.stdout)["job_status"] != "CANCELLED" and time.monotonic() < deadline:
        status = run_cli(["status", tag, "--url", emulator.url, "--json"])
    assert json.loads(status.stdout)["job_status"] == "CANCELLED"


def test_a_shell_sees_ctrl_c_as_130_and_the_line_before_it(emulator):
    tag = start(emulator.url, "/alter/table", alter(30))
    script = '"$@"; echo "exit $?" >&2'
    shell = subprocess.Popen(["sh", "-c", script, "sh", sys.executable, "-m", "kjob", "wait", tag, "--url", emulator.url,
                              "--progress", "plain"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert "RUNNING" in shell.stderr.readline().decode()
    kjob = int(Path(f"/proc/{shell.pid}/task/{shell.pid}/children").read_text().split()[0])
    os.kill(kjob, signal.SIGINT)
    _, stderr = shell.communicate(timeout=20)
    assert stderr.decode().splitlines()[-2:] == [f"kjob: interrupted; the jobs go on on the server: {tag}", "exit 130"]


def test_github_step_summary_gets_a_markdown_table(emulator, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    ok = start(emulator.url, "/alter/table", alter(0.1))
    bad = start(emulator.url, "/alter/table", alter(0.1, "error", "no space | left"))
    run_cli(["wait", ok, bad, "--url", emulator.url, "-q"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "| job | endpoint | status |" in text
    assert re.search(re.escape(ok) + r" \| /alter/table \| DONE", text)
    assert re.search(re.escape(bad) + r" \| /alter/table \| ERROR .*no space \\\| left", text)


def test_a_job_that_never_appeared_is_not_seen_in_the_summary(emulator, tmp_path):
    summary = tmp_path / "summary.md"
    result = run_cli(["wait", "never-there", "--url", emulator.url, "--timeout", "1", "--not-found-grace", "30", "-q"],
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert (result.exit_code, result.stderr) == (4, "kjob: timed out; not found yet: never-there\n")
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| never-there ")]
    assert len(rows) == 1 and re.fullmatch(r"\| never-there \|  \| not seen \| \d+\.\d s \|  \|", rows[0]), rows

def test_submit_wait_submits_then_waits(emulator):
    result = run_cli(["submit", "/alter/table", "--url", emulator.url, "--data", alter(0.2, "error"), "--wait", "--json"])
    assert result.exit_code == 1
    created, ended = (json.loads(line) for line in result.stdout.splitlines())
    assert created["job_tag"] == ended["job_tag"] and ended["job_status"] == "ERROR"


# --- fetch --------------------------------------------------------------------------------


def gpudb_view(url: str, tag: str, encoding: str) -> tuple[dict, object]:
    """What the official client gets for a finished job, and its own decoding of the response
    (bytes as base64 text, as kjob shows them)."""
    options = gpudb.GPUdb.Options()
    options.encoding = encoding.upper()
    db = gpudb.GPUdb(host=url, options=options)
    job = db.get_job(-1, options={"job_tag": tag})
    if job["response_encoding"] == "json":  # Avro's JSON form: a bytes field is one character per byte
        decoded = json.loads(job["job_response_str"])
        fields = json.loads(db.gpudb_schemas[job["endpoint"]]["RSP_SCHEMA_STR"])["fields"]
        decoded.update({f["name"]: decoded[f["name"]].encode("latin-1") for f in fields if f["type"] == "bytes"})
    else:
        decoded = db.gpudb_schemas[job["endpoint"]]["RSP_SCHEMA"].decode(job["job_response"])
    return job, {key: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
                 for key, value in decoded.items()}


@pytest.mark.parametrize("encoding", ["binary", "json", "snappy"])
@pytest.mark.parametrize("endpoint, payload", [("/alter/table", alter(0)), ("/execute/sql", sql(0))])
def test_fetch_equals_what_gpudb_decodes(emulator, encoding, endpoint, payload):
    tag = start(emulator.url, endpoint, payload, "--encoding", encoding)
    wait_for(lambda: run_cli(["status", tag, "--url", emulator.url, "-q"]).stdout.strip() == "DONE")
    fetched = run_cli(["fetch", tag, "--url", emulator.url, "--format", "response"])
    assert fetched.exit_code == 0, fetched.stderr
    job, theirs = gpudb_view(emulator.url, tag, "binary")
    assert json.loads(fetched.stdout) == json.loads(json.dumps(theirs))
    raw = run_kjob(["fetch", tag, "--url", emulator.url, "--raw"])
    expected = job["job_response_str"].encode() if job["response_encoding"] == "json" else job["job_response"]
    assert raw.returncode == 0 and raw.stdout == expected


def test_fetch_sql_rows_in_every_format(emulator):
    tag = start(emulator.url, "/execute/sql", sql(0))
    wait_for(lambda: run_cli(["status", tag, "--url", emulator.url, "-q"]).stdout.strip() == "DONE")
    rows = json.loads(run_cli(["fetch", tag, "--url", emulator.url]).stdout)
    assert rows[0] == {"id": 1, "city": "Amsterdam", "temperature": 11.2}
    assert rows[4]["temperature"] is None and len(rows) == 6
    jsonl = run_cli(["fetch", tag, "--url", emulator.url, "--format", "jsonl"]).stdout.splitlines()
    assert [json.loads(line) for line in jsonl] == rows
    csv_text = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv"]).stdout
    assert csv_text.splitlines()[:2] == ["id,city,temperature", "1,Amsterdam,11.2"]
    table = run_cli(["fetch", tag, "--url", emulator.url, "--format", "table"]).stdout
    assert "Amsterdam" in table and "city" in table and "NULL" in table
    assert run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv"]).exit_code == 0


def test_fetch_of_a_job_that_has_not_ended_well(emulator):
    running = start(emulator.url, "/alter/table", alter(30))
    failed = start(emulator.url, "/alter/table", alter(0, "error", "disk full"))
    cancelled = start(emulator.url, "/alter/table", alter(0, "cancelled"))
    still = run_cli(["fetch", running, "--url", emulator.url])
    assert (still.exit_code, still.stderr) == (4, f"kjob: job {running} is still RUNNING (0%): add --wait to wait for it\n")
    failure = run_cli(["fetch", failed, "--url", emulator.url])
    assert (failure.exit_code, failure.stdout, failure.stderr) == (1, "", f"kjob: job {failed} ended in ERROR: disk full\n")
    assert run_cli(["fetch", cancelled, "--url", emulator.url]).exit_code == 3
    assert run_cli(["fetch", "no-such-tag", "--url", emulator.url]).exit_code == 5
    assert run_cli(["fetch", running, "--url", emulator.url, "--format", "csv"]).exit_code == 4


def test_fetch_wait_waits_first(emulator):
    tag = start(emulator.url, "/execute/sql", sql(0.4))
    result = run_cli(["fetch", tag, "--wait", "--url", emulator.url, "--format", "jsonl"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 6


def test_fetch_output_file_is_written_whole(emulator, tmp_path):
    tag = start(emulator.url, "/execute/sql", sql(0))
    wait_for(lambda: run_cli(["status", tag, "--url", emulator.url, "-q"]).stdout.strip() == "DONE")
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "rows.csv"
    result = run_cli(["fetch", tag, "--url", emulator.url, "--format", "csv", "-o", str(target)])
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_text().startswith("id,city,temperature\n1,Amsterdam")
    assert os.listdir(tmp_path / "out") == ["rows.csv"]


def test_a_failed_fetch_leaves_the_old_file_and_no_partial_one(emulator, tmp_path):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "result.json"
    target.write_text("yesterday's result\n")
    failed = start(emulator.url, "/alter/table", alter(0, "error"))
    assert run_cli(["fetch", failed, "--url", emulator.url, "-o", str(target)]).exit_code == 1
    emulator.primary.faults.add("truncate@/get/job")
    done = start(emulator.url, "/alter/table", alter(0))
    cut = run_cli(["fetch", done, "--url", emulator.url, "-o", str(target), "--http-timeout", "2"])
    assert cut.exit_code == 7
    assert target.read_text() == "yesterday's result\n"
    assert os.listdir(tmp_path / "out") == ["result.json"]


def test_fetch_to_a_missing_folder_is_exit_2(emulator, tmp_path):
    tag = start(emulator.url, "/alter/table", alter(0))
    result = run_cli(["fetch", tag, "--url", emulator.url, "-o", str(tmp_path / "nope" / "x.json")])
    assert (result.exit_code, result.stderr) == (
        2, f"kjob: cannot write {tmp_path / 'nope' / 'x.json'}: No such file or directory\n")


def test_fetch_pretty_on_a_terminal_compact_in_a_pipe(emulator):
    tag = start(emulator.url, "/alter/table", alter(0))
    piped = run_kjob(["fetch", tag, "--url", emulator.url])
    assert piped.stdout.count(b"\n") == 1
    code, screen = run_in_pty(["fetch", tag, "--url", emulator.url])
    assert code == 0 and screen.count("\n") > 5
