"""HA rings: failover to a backup cluster, jobs found there by tag, and no job started twice."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest
from conftest import alter, get_job, run_cli, submit_json

from kjob.emulator import Emulator
from kjob.history import History


def urls(ring) -> list[str]:
    return ["--url", ring.primary.url, "--url", ring.backup.url]


def test_wait_goes_on_on_the_backup_when_the_primary_stops(ring):
    by_id = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(2.0))
    by_tag = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(2.2, "error"))
    process = subprocess.Popen(
        [sys.executable, "-m", "kjob", "wait", str(by_id["job_id"]), by_tag["job_tag"], *urls(ring), "--json",
         "--progress", "plain", "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"RUNNING" in process.stderr.readline()  # following on the primary
    ring.primary.stop()
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, stderr  # the worst true outcome: the second job's ERROR
    ended = {record["job_tag"]: record for record in map(json.loads, stdout.decode().splitlines())}
    assert ended[by_id["job_tag"]]["job_status"] == "DONE"
    assert ended[by_tag["job_tag"]]["job_status"] == "ERROR"
    assert {record["cluster"] for record in ended.values()} == {ring.backup.url}
    on_backup = run_cli(["status", by_id["job_tag"], "--url", ring.backup.url, "--json"])
    assert ended[by_id["job_tag"]]["job_id"] == json.loads(on_backup.stdout)["job_id"]  # the backup's own number
    assert stderr.decode().count(f"going on with {ring.backup.url}") == 1
    assert ring.job_count() == 2


def test_wait_on_jobs_named_by_id_only_goes_on_on_the_backup(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(3))
    process = subprocess.Popen([sys.executable, "-m", "kjob", "wait", str(job["job_id"]), *urls(ring), "--json",
                                "--progress", "plain", "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"RUNNING" in process.stderr.readline()
    ring.primary.stop()
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert json.loads(stdout)["cluster"] == ring.backup.url


def test_a_job_id_from_a_primary_that_is_gone_is_found_through_kjobs_record(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0.3))
    ring.primary.stop()
    waited = run_cli(["wait", str(job["job_id"]), *urls(ring), "--json"])
    assert waited.exit_code == 0, waited.stderr
    assert json.loads(waited.stdout)["job_tag"] == job["job_tag"]
    fetched = run_cli(["fetch", str(job["job_id"]), *urls(ring)])
    assert fetched.exit_code == 0 and json.loads(fetched.stdout)["table_name"] == "t"


def test_without_a_record_a_foreign_id_is_refused_with_advice(ring):
    ring.primary.stop()
    result = run_cli(["status", "1", *urls(ring), "--http-timeout", "2"])
    assert result.exit_code == 7
    assert result.stderr.splitlines()[-1] == (
        f"kjob: no cluster answered /get/job (tried {ring.url}: connection refused; {ring.backup.url}: job id 1 belongs "
        f"to {ring.url} and its tag is not known (name the job by tag))")


def test_fetch_by_tag_from_the_backup_after_the_primary_is_gone(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.stop()
    for url_args in (["--url", ring.backup.url], urls(ring)):
        fetched = run_cli(["fetch", job["job_tag"], *url_args])
        assert fetched.exit_code == 0, fetched.stderr
        assert json.loads(fetched.stdout)["table_name"] == "t"


def test_at_last_names_the_newest_submitted_job(ring):
    submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    newest = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    result = run_cli(["status", "@last", *urls(ring), "--json"])
    assert json.loads(result.stdout)["job_tag"] == newest["job_tag"]
    listed = run_cli(["history", "--json"])
    assert [json.loads(line)["job_tag"] for line in listed.stdout.splitlines()][-1] == newest["job_tag"]
    assert set(json.loads(listed.stdout.splitlines()[-1])) == {"job_id", "job_tag", "endpoint", "cluster", "submitted_at"}


def test_at_last_with_an_empty_record_is_exit_2(tmp_path):
    result = run_cli(["status", "@last"])
    assert (result.exit_code, result.stderr) == (2, "kjob: @last names the newest job kjob submitted, but its record is "
                                                    f"empty ({tmp_path}/state/kjob/jobs.jsonl)\n")


FAILOVER_REASONS = {
    "http-503": "HTTP 503", "offline": "ERROR: Kinetica is offline", "exiting": "ERROR: Kinetica is exiting",
    "drop": "connection closed without an answer",
    "garbage": "unreadable answer: malformed or truncated Avro gpudb_response: a varint longer than 10 bytes at offset 10",
    "shutting-down": "ERROR: System shutting down", "draining": "ERROR: Unavailable: Draining HA queue",
}


@pytest.mark.parametrize("fault", list(FAILOVER_REASONS))
def test_status_moves_on_from_a_failing_primary(ring, fault):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add(fault)
    result = run_cli(["status", job["job_tag"], *urls(ring), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cluster"] == ring.backup.url
    assert result.stderr == f"kjob: {FAILOVER_REASONS[fault]}; going on with {ring.backup.url}\n"


def test_a_text_answer_fails_over_only_with_a_5xx(ring):
    """As the Java client: an HTML page with HTTP 200 (a proxy) is final; text with a 503 fails over."""
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add("html")
    result = run_cli(["status", job["job_tag"], *urls(ring)])
    assert result.exit_code == 7 and ring.backup.url not in result.stderr
    assert result.stderr == (f"kjob: {ring.url} answered /get/job with HTTP 200 and an HTML page (a proxy?), "
                             "not a Kinetica answer\n")


def test_a_failed_call_rechecks_the_cluster_and_stays_when_it_is_running(ring):
    """One 503, then the primary's /show/system/status says running and not draining: kjob stays."""
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add("http-503@/get/job*1")
    result = run_cli(["status", job["job_tag"], *urls(ring), "--json", "--verbose"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cluster"] == ring.url
    said = [line for line in result.stderr.splitlines()[1:] if not line.startswith(("> ", "< "))]  # no HTTP trace
    assert said == [f"{ring.url}: running"]


def test_a_draining_cluster_is_left_after_the_recheck(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add("draining")
    result = run_cli(["status", job["job_tag"], *urls(ring), "--json", "--verbose"])
    assert json.loads(result.stdout)["cluster"] == ring.backup.url
    said = [line for line in result.stderr.splitlines()[1:] if not line.startswith(("> ", "< "))]  # no HTTP trace
    assert said == [f"{ring.url}: running, draining",
                    f"kjob: ERROR: Unavailable: Draining HA queue; going on with {ring.backup.url}"]


@pytest.mark.parametrize("fault, status", [("unauthorized", 401), ("forbidden", 403)])
def test_401_and_403_on_the_primary_never_fail_over(ring, fault, status):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add(fault)
    result = run_cli(["status", job["job_tag"], *urls(ring)])
    assert (result.exit_code, result.stderr) == (
        6, f"kjob: credentials refused by {ring.url} (HTTP {status}): check KJOB_USER and KJOB_PASSWORD, or KJOB_TOKEN\n")


def test_401_on_the_primary_never_fails_over(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(0))
    ring.primary.faults.add("unauthorized")
    result = run_cli(["status", job["job_tag"], *urls(ring)])
    status = 401
    assert (result.exit_code, result.stderr) == (
        6, f"kjob: credentials refused by {ring.url} (HTTP {status}): check KJOB_USER and KJOB_PASSWORD, or KJOB_TOKEN\n")


def test_an_ordinary_error_answer_never_fails_over(ring):
    ring.primary.faults.add("refuse")
    result = run_cli(["status", "whatever-tag", *urls(ring)])
    assert result.exit_code == 8


def test_after_a_full_round_of_failures_kjob_names_every_cluster_and_why(ring):
    ring.primary.faults.add("http-503")
    ring.backup.stop()
    result = run_cli(["status", "nightly-tag", *urls(ring)])
    assert result.exit_code == 7
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"kjob: no cluster answered /get/job (tried {ring.primary.url}: HTTP 503; {ring.backup.url}: "
                    "connection refused)")


@pytest.mark.parametrize("clusters", ["one", "ring"])
def test_a_submit_whose_connection_is_cut_after_arrival_starts_exactly_one_job(clusters):
    with Emulator(port=0, backup_port=0 if clusters == "ring" else None, job_duration=0.1) as emu:
        emu.primary.faults.add("drop-after@/create/job*1")
        args = ["--url", emu.primary.url] + (["--url", emu.backup.url] if emu.backup else [])
        result = run_cli(["submit", "/alter/table", "--json", *args, "--data", alter(0)])
        assert result.exit_code == 0, result.stderr
        created = json.loads(result.stdout)
        assert emu.job_count() == 1
        assert created["existed"] is False
        assert get_job(emu.url, tag=created["job_tag"])["info"]["job_tag"] == created["job_tag"]
        assert run_cli(["status", created["job_tag"], *args]).exit_code == 0


def test_a_submit_retried_after_a_503_starts_one_job():
    with Emulator(port=0, job_duration=0.1) as emu:
        emu.primary.faults.add("http-503@/create/job*2")
        result = run_cli(["submit", "/alter/table", "--json", "--url", emu.url, "--data", alter(0)])
        assert result.exit_code == 0, result.stderr
        assert emu.job_count() == 1


def test_discover_finds_the_backup_from_the_primary(ring):
    job = submit_json([ring.primary.url, ring.backup.url], "/alter/table", alter(1.5))
    process = subprocess.Popen([sys.executable, "-m", "kjob", "wait", job["job_tag"], "--url", ring.primary.url,
                                "--discover", "--json", "--progress", "plain", "--interval", "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"RUNNING" in process.stderr.readline()
    ring.primary.stop()
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and json.loads(stdout)["cluster"] == ring.backup.url


def _add_many(folder: str, writer: int) -> None:
    history = History(__import__("pathlib").Path(folder))
    for index in range(200):
        history.add(writer * 1000 + index, f"tag-{writer}-{index}", "/alter/table", "http://db:9191")


def test_the_record_is_safe_against_two_writers(tmp_path):
    processes = [multiprocessing.Process(target=_add_many, args=(str(tmp_path), writer)) for writer in (1, 2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=30)
    entries = History(tmp_path).entries()
    assert len(entries) == 400
    assert {entry["job_tag"] for entry in entries} == {f"tag-{w}-{i}" for w in (1, 2) for i in range(200)}
    assert (tmp_path / "jobs.jsonl").read_text().count("\n") == 400


def test_the_record_holds_no_payload_and_no_secret(secured, tmp_path):
    env = {"KJOB_USER": "alice", "KJOB_PASSWORD": "s3cret-pw"}
    payload = json.dumps({"table_name": "payload-marker", "action": "refresh", "value": ""})
    assert run_cli(["submit", "/alter/table", "--url", secured.url, "--data", payload], env=env).exit_code == 0
    record = (tmp_path / "state" / "kjob" / "jobs.jsonl").read_text()
    assert "payload-marker" not in record and "s3cret-pw" not in record and "alice" not in record
    assert (tmp_path / "state" / "kjob" / "jobs.jsonl").stat().st_mode & 0o077 == 0
