"""Unreachable clusters and the wait display: kjob never claims what it cannot know, names the
job on every outcome line, and says each thing once (issue 14, a newcomer's walk)."""

from __future__ import annotations

import json
import re

from conftest import alter, run_cli, run_kjob, start
from screen import final_screen, run_in_pty

from kjob.emulator import Emulator

DONE_JOB = json.dumps({"table_name": "t", "action": "refresh", "value": "", "options": {}})


def test_a_job_unreachable_at_the_deadline_ends_unreachable_not_timed_out(emulator, tmp_path):
    tag = start(emulator.url, "/alter/table", alter(30))
    with open(tmp_path / "out", "w") as out:
        code, output = run_in_pty(["wait", tag, "--url", emulator.url, "--interval", "0.2", "--timeout", "3"],
                                  stdout=out, when=(b"RUNNING", lambda _: emulator.primary.stop()), columns=300)
    assert code == 7  # kjob cannot know that the job still runs: not 4
    screen = [line for line in final_screen(output, 300) if line]
    notes = [line for line in screen if line.startswith(f"kjob: job {tag} unreachable; last seen RUNNING ")]
    assert len(notes) == 1, screen
    # the time actually left (under --timeout 3), and no first-contact hint mid-wait
    assert re.fullmatch(rf"kjob: job {tag} unreachable; last seen RUNNING \d+%: no cluster answered /get/job: "
                        rf"nothing is listening at {emulator.url} \(connection refused\); still trying (?:for [1-3](?:\.\d)? s|until the deadline)",
                        notes[0]), notes[0]
    assert not any("timed out" in line for line in screen), screen
    row = next(line for line in screen if line.startswith(f" {tag} "))
    assert re.fullmatch(rf" {tag} │ /alter/table │ UNREACHABLE │ \d\.\d s +│ last seen RUNNING \d+%, could not be reached: no"
                        rf" cluster answered /get/job: nothing is listening at {emulator.url} \(connection refused\) *", row), row
    lines = (tmp_path / "out").read_text().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        rf"job {tag} /alter/table: UNREACHABLE: last seen RUNNING \d+%, could not be reached: no cluster answered "
        rf"/get/job: nothing is listening at {emulator.url} \(connection refused\)", lines[0]), lines


def test_the_json_record_of_an_unreachable_job_says_so(emulator, tmp_path):
    tag = start(emulator.url, "/alter/table", alter(30))
    with open(tmp_path / "out", "w") as out:
        code, _ = run_in_pty(["wait", tag, "--json", "--url", emulator.url, "--interval", "0.2", "--timeout", "2"],
                             stdout=out, when=(b"RUNNING", lambda _: emulator.primary.stop()))
    assert code == 7
    record = json.loads((tmp_path / "out").read_text())
    assert (record["job_status"], record["running"], record["exit_code"], record["reachable"]) == ("RUNNING", True, 7, False)
    assert record["error"].startswith("last seen RUNNING ")


def test_every_outcome_line_names_its_job_when_no_cluster_answers(emulator):
    url = emulator.url
    emulator.primary.stop()
    result = run_kjob(["wait", "a", "b", "--url", url, "--timeout", "1", "--json"])
    assert result.returncode == 7
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["ref"], r["exit_code"], r["reachable"]) for r in records] == [("a", 7, False), ("b", 7, False)]
    result = run_kjob(["wait", "a", "b", "--url", url, "--timeout", "1"])
    assert result.returncode == 7
    refused = (f"UNREACHABLE: no cluster answered /get/job: nothing is listening at {url} (connection refused); "
               "give your cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator")
    assert result.stdout.decode().splitlines() == [f"job a: {refused}", f"job b: {refused}"]
    assert "UNREACHABLE: no cluster" not in result.stderr.decode()  # said once, on stdout


def test_an_id_whose_cluster_is_gone_and_whose_tag_is_not_yet_on_the_backup_is_unreachable():
    with Emulator(port=0, backup_port=0, job_duration=30, replication_delay=30) as ring:
        submitted = run_cli(["submit", "/alter/table", "--tag", "ha2", "--url", ring.url, "--data", DONE_JOB])
        assert submitted.stdout.startswith("job 1 submitted"), submitted.stdout
        ring.primary.stop()
        result = run_cli(["status", "1", "--url", f"{ring.url},{ring.backup.url}"])
        assert result.exit_code == 7
        assert result.stderr.splitlines()[-1] == (
            f"kjob: {ring.url} unreachable (connection refused), and job 1 not found on {ring.backup.url} "
            "(looked up by tag ha2): Job with tag 'ha2' not found (not there, or not yet: a tag reaches a backup after a delay)")
        # the wording says what was done: by tag on the backup
        by_tag = run_cli(["status", "ha2", "--url", ring.backup.url])
        assert by_tag.stderr == f"kjob: job ha2 not found on {ring.backup.url} (looked up by tag ha2): Job with tag 'ha2' not found\n"


def test_an_all_digit_tag_shows_as_a_ref_and_each_outcome_once(emulator):
    run_cli(["submit", "/alter/table", "--tag", "3", "--url", emulator.url, "--data", DONE_JOB, "--wait"])
    result = run_kjob(["wait", "1", "1", "--url", emulator.url])
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == ["job 1 (tag:3) /alter/table: already DONE"]  # followed once
    assert "already DONE" not in result.stderr.decode()  # stdout is the data: not said again on stderr
    code, output = run_in_pty(["wait", "1", "1", "--url", emulator.url])
    assert code == 0
    screen = [line for line in final_screen(output, 140) if line]
    assert not any("all 2 jobs" in line for line in screen), screen
    assert any(re.fullmatch(r"1 \(tag:3\) +/alter/table +DONE +━+ 100% .*", line) for line in screen), screen


def test_a_job_in_its_not_found_grace_is_waiting_not_unknown(emulator):
    code, output = run_in_pty(["wait", "no-such-tag", "--url", emulator.url, "--not-found-grace", "1", "--interval", "0.2"])
    assert code == 5
    assert "UNKNOWN" not in output  # a frame drawn after the first not-found answer said UNKNOWN
    assert re.search(r"no-such-tag +waiting ", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output))
