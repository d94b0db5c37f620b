"""Kinetica as its own material shows it (docs/PROTOCOL-NOTES.md), tried through kjob and gpudb.

Each test names the behaviour it checks: snappy answers, overlapping ids on a ring, cancel that
lands at a checkpoint or not at all, progress that is not linear, retention, and a submit whose
outcome cannot be known.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import gpudb
import pytest
import requests
from conftest import alter, run_cli, sql, submit_json, wait_for

from kjob.emulator import Emulator
from kjob.protocol import codec


def status(url: str, ref: str) -> dict:
    result = run_cli(["status", str(ref), "--url", url, "--json"])
    assert result.exit_code in (0, 1, 3), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("answer_type", ["octet-stream", "x-snappy"])
def test_answers_to_snappy_requests_are_read_whatever_their_type(answer_type):
    """The Content-Type of the answer to a snappy request is not documented: kjob and gpudb take both."""
    with Emulator(port=0, job_duration=0, snappy_answer_type=answer_type) as emu:
        created = submit_json(emu.url, "/alter/table", alter(0), "--wire", "snappy")
        result = run_cli(["status", created["job_tag"], "--url", emu.url, "--wire", "snappy", "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["job_status"] == "DONE"
        options = gpudb.GPUdb.Options()
        options.encoding = "SNAPPY"
        db = gpudb.GPUdb(host=emu.url, options=options)
        assert db.get_job(created["job_id"]).job_status == "DONE"


def test_ids_on_two_clusters_overlap_and_kjob_never_asks_one_for_the_others(ring):
    """Every cluster counts every request from 1, so the primary's job N is another job on the backup."""
    run_cli(["list", "--url", ring.url])  # ordinary requests: the primary's counter moves on
    on_primary = submit_json(ring.url, "/alter/table", alter(0), "--tag", "on-primary")
    on_backup = []  # one /create/job a submit: the backup's ids climb one by one up to the primary's
    while not on_backup or on_backup[-1]["job_id"] < on_primary["job_id"]:
        assert len(on_backup) < on_primary["job_id"], on_backup
        on_backup.append(submit_json(ring.backup.url, "/alter/table", alter(0), "--tag", f"backup-{len(on_backup)}"))
    same_number = status(ring.backup.url, str(on_primary["job_id"]))
    assert (same_number["job_id"], same_number["job_tag"]) == (on_primary["job_id"], on_backup[-1]["job_tag"])
    # kjob follows the job by its tag on the backup, never by the primary's id.
    looked = run_cli(["status", "on-primary", "--url", ring.backup.url, "--json"])
    assert json.loads(looked.stdout)["job_tag"] == "on-primary"
    ring.primary.stop()
    by_id = run_cli(["status", str(on_primary["job_id"]), "--url", ring.url, "--url", ring.backup.url, "--json"])
    assert by_id.exit_code != 0 or json.loads(by_id.stdout)["job_tag"] == "on-primary"


def test_every_request_takes_an_id(emulator):
    first = submit_json(emulator.url, "/alter/table", alter(0))
    for _ in range(3):
        status(emulator.url, first["job_tag"])
    second = submit_json(emulator.url, "/alter/table", alter(0))
    assert second["job_id"] > first["job_id"] + 3


def test_a_writing_job_is_not_cancelled(emulator):
    """Insert, update and delete jobs cannot be cancelled: kjob says the job goes on (exit 4)."""
    created = submit_json(emulator.url, "/execute/sql", sql(30, "INSERT INTO cities VALUES (7, 'Genoa', 18.0)"))
    result = run_cli(["cancel", created["job_tag"], "--url", emulator.url, "--timeout", "1"])
    assert result.exit_code == 4
    assert result.stdout.endswith("still RUNNING after the cancel\n")  # the server's word once, not again in brackets


def test_a_job_that_ends_before_its_checkpoint_is_not_cancelled():
    with Emulator(port=0, cancel_checkpoint=5.0) as emu:
        created = submit_json(emu.url, "/alter/table", alter(0.3))
        result = run_cli(["cancel", created["job_tag"], "--url", emu.url])
        assert result.exit_code == 0
        said = {f"job 1 (tag {created['job_tag']}): still DONE after the cancel (RUNNING)\n",
                f"job 1 (tag {created['job_tag']}): already DONE, nothing to cancel\n"}  # a slow machine: ended first
        assert result.stdout in said
        assert status(emu.url, created["job_tag"])["job_status"] == "DONE"


def test_a_read_job_stops_at_its_checkpoint(emulator):
    created = submit_json(emulator.url, "/execute/sql", sql(10))
    running = wait_for(lambda: (seen := status(emulator.url, created["job_tag"]))["progress"] >= 5 and seen, what="5%")
    result = run_cli(["cancel", created["job_tag"], "--url", emulator.url])
    assert result.exit_code == 0
    assert result.stdout == f"job {created['job_id']} (tag {created['job_tag']}): CANCELLED\n"
    assert status(emulator.url, created["job_tag"])["progress"] >= running["progress"]  # it stops where it was


def progress_while_running(url: str, tag: str) -> list[int]:
    """Every progress the job shows while it runs (bounded, whatever the machine's load)."""
    seen, deadline = [], time.monotonic() + 30
    while (answer := status(url, tag))["job_status"] == "RUNNING":
        assert time.monotonic() < deadline, "the job never ended"
        seen.append(answer["progress"])
    return seen


def test_progress_can_sit_at_zero_then_jump(emulator):
    created = submit_json(emulator.url, "/alter/table", alter(3.0, emulator_progress="jump"))
    seen = progress_while_running(emulator.url, created["job_tag"])
    assert seen[0] == 0 and set(seen) == {0, 90}


def test_progress_can_stall(emulator):
    created = submit_json(emulator.url, "/alter/table", alter(3.0, emulator_progress="stall"))
    seen = progress_while_running(emulator.url, created["job_tag"])
    assert max(seen) == 40 and seen[-1] == 40 and seen.count(40) > len(seen) // 2


def test_finished_jobs_are_forgotten_after_the_retention():
    with Emulator(port=0, retention=0.3) as emu:
        created = submit_json(emu.url, "/alter/table", alter(0))
        assert status(emu.url, created["job_tag"])["job_status"] == "DONE"
        deadline = time.monotonic() + 5
        while (result := run_cli(["status", created["job_tag"], "--url", emu.url])).exit_code == 0:
            assert time.monotonic() < deadline, "the job was never forgotten"
        tag = created["job_tag"]
        assert (result.exit_code, result.stderr) == (
            5, f"kjob: job {tag} not found on {emu.url} (looked up by tag {tag}): Job with tag '{tag}' not found\n")


def test_list_shows_the_servers_words(emulator):
    running = submit_json(emulator.url, "/execute/sql", sql(30, "SELECT 1"))
    listed = [json.loads(line) for line in run_cli(["list", "--url", emulator.url, "--json"]).stdout.splitlines()]
    assert [(row["job_tag"], row["job_status"], row["user"]) for row in listed] == [(running["job_tag"], "dispatched", "anonymous")]


def test_a_submit_that_may_have_arrived_names_its_tag_when_no_cluster_answers_after(emulator):
    emulator.primary.faults.add("drop-after@/create/job*1")
    emulator.primary.faults.add("http-503@/get/job")
    data = alter(0)
    result = run_cli(["submit", "/alter/table", "--tag", "maybe-there", "--url", emulator.url, "--timeout", "2", "--data", data])
    assert result.exit_code == 7
    assert result.stderr.splitlines()[-1].endswith("a try may have started the job under tag maybe-there "
                                                   "(check with: kjob status maybe-there)")
    emulator.primary.faults.clear()
    assert status(emulator.url, "maybe-there")["job_status"] == "DONE"



def test_a_submit_cut_by_its_timeout_after_sending_is_timed_out_and_names_its_tag(emulator):
    emulator.primary.faults.add("stall@/create/job*1")
    result = run_cli(["submit", "/alter/table", "--tag", "cut-off", "--url", emulator.url, "--timeout", "1", "--data", alter(0)])
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (4, (
        f"kjob: timed out after 1 s (--timeout): no answer from {emulator.url} to /create/job; a try may have started "
        "the job under tag cut-off (check with: kjob status cut-off)"))

@pytest.mark.parametrize("tags", ["json", "comma", "none"])
def test_list_reads_the_tags_however_the_server_holds_them(tags):
    with Emulator(port=0, show_jobs_tags=tags) as emu:
        running = submit_json(emu.url, "/alter/table", alter(30))
        listed = [json.loads(line) for line in run_cli(["list", "--url", emu.url, "--json"]).stdout.splitlines()]
        assert [(row["job_id"], row["job_tag"]) for row in listed] == [(running["job_id"], None if tags == "none" else running["job_tag"])]


def test_the_emulator_process_takes_the_settings_the_evidence_leaves_open():
    process = subprocess.Popen([sys.executable, "-m", "kjob.emulator", "--port", "0", "--job-duration", "0",
                                "--max-get-records-size", "2", "--retention", "0.5", "--progress", "stall",
                                "--cancel-checkpoint", "0", "--show-jobs-tags", "comma", "--snappy-answer-type", "x-snappy"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = re.search(r"primary (http://\S+)", process.stdout.readline().decode()).group(1)
        body = codec.encode_request("/admin/show/jobs", {"options": {}}, "snappy")
        answer = requests.post(url + "/admin/show/jobs", data=body, headers={"Content-Type": "application/x-snappy"}, timeout=5)
        assert answer.headers["Content-Type"] == "application/x-snappy"
        assert codec.decode_response("/admin/show/jobs", answer.content, "binary")["info"]["job_tag"] == ""
        created = submit_json(url, "/execute/sql", sql(0, "SELECT id FROM cities"))
        assert run_cli(["fetch", created["job_tag"], "--url", url, "--format", "csv"]).exit_code == 10  # 2 of 6 rows
        slow = submit_json(url, "/alter/table", alter(30), "--wire", "snappy")
        assert status(url, slow["job_tag"])["progress"] < 60  # stalls at 40 at most
        assert run_cli(["cancel", slow["job_tag"], "--url", url]).stdout.endswith(": CANCELLED\n")  # checkpoint 0: at once
    finally:
        process.terminate()
        process.communicate(timeout=10)
