"""The everyday commands: cancel, list, completion, --version and the help text."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import alter, get_job, run_cli, run_kjob, start


def test_cancel_by_tag_and_by_id(emulator):
    by_tag, by_id = start(emulator.url, "/alter/table", alter(30)), start(emulator.url, "/alter/table", alter(30))
    job_id = json.loads(run_cli(["status", by_id, "--url", emulator.url, "--json"]).stdout)["job_id"]
    result = run_cli(["cancel", by_tag, str(job_id), "--url", emulator.url, "--json"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["job_status"], r["cancelled"], r["already_ended"]) for r in records] == [("CANCELLED", True, False)] * 2
    assert [get_job(emulator.url, tag=tag)["job_status"] for tag in (by_tag, by_id)] == ["CANCELLED"] * 2


def test_cancel_is_idempotent_and_reports_jobs_that_ended(emulator):
    done = start(emulator.url, "/alter/table", alter(0))
    running = start(emulator.url, "/alter/table", alter(30))
    assert run_cli(["cancel", running, "--url", emulator.url]).exit_code == 0
    again = run_cli(["cancel", running, done, "--url", emulator.url])
    assert again.exit_code == 0
    assert again.stdout == (f"job 2 (tag {running}): already CANCELLED, nothing to cancel\n"
                            f"job 1 (tag {done}): already DONE, nothing to cancel\n")
    assert get_job(emulator.url, tag=done)["job_status"] == "DONE"


def test_cancel_of_a_job_that_does_not_exist_is_exit_5(emulator):
    result = run_cli(["cancel", "no-such-job", "--url", emulator.url])
    assert (result.exit_code, result.stderr) == (
        5, f"kjob: job no-such-job not found on {emulator.url} (looked up by tag no-such-job): Job with tag 'no-such-job' not found\n")


def test_cancel_at_last_on_the_backup(ring):
    tag = start(ring.primary.url, "/alter/table", alter(30), "--url", ring.backup.url)
    ring.primary.stop()
    result = run_cli(["cancel", "@last", "--url", ring.primary.url, "--url", ring.backup.url, "--json"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["job_tag"] == tag and record["cluster"] == ring.backup.url and record["cancelled"]


def test_list_running_and_all(emulator):
    running, done = start(emulator.url, "/alter/table", alter(30)), start(emulator.url, "/alter/table", alter(0))
    now = run_cli(["list", "--url", emulator.url, "--json"])
    assert now.exit_code == 0
    assert [json.loads(line)["job_tag"] for line in now.stdout.splitlines()] == [running]
    everything = [json.loads(line) for line in run_cli(["list", "--all", "--url", emulator.url, "--json"]).stdout.splitlines()]
    assert {row["job_tag"]: row["job_status"] for row in everything} == {running: "dispatched", done: "done"}
    assert set(everything[0]) == {"job_id", "job_status", "endpoint", "job_tag", "time_received", "user", "cluster"}
    human = run_cli(["list", "--all", "--url", emulator.url])
    lines = human.stdout.splitlines()
    assert lines[0] == "ID  STATUS      ENDPOINT      RECEIVED              USER       TAG"
    assert [re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", line) for line in lines[1:]] == [
        f" 2  done        /alter/table  TIME  anonymous  {done}", f" 1  dispatched  /alter/table  TIME  anonymous  {running}"]


def test_list_of_an_empty_cluster(emulator):
    result = run_cli(["list", "--url", emulator.url])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "kjob: no jobs\n")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_current(shell):
    """completions/ holds what `kjob completion SHELL` prints; `make completions` renews them."""
    printed = run_kjob(["completion", shell]).stdout.decode()
    with open(os.path.join(os.path.dirname(__file__), "..", "completions", f"kjob.{shell}"), encoding="utf-8") as handle:
        assert handle.read() == printed, f"completions/kjob.{shell} is stale: run `make completions`"
    assert "_KJOB_COMPLETE" in printed


def complete(words: str, cword: int, env: dict[str, str] | None = None) -> list[str]:
    environment = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_KJOB_COMPLETE": "bash_complete", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "kjob"], capture_output=True, env=environment, timeout=30)
    return [line.split(",", 1)[1] for line in result.stdout.decode().splitlines()]


def test_completion_of_commands_options_and_refs(emulator):
    tag = start(emulator.url, "/alter/table", alter(0))
    assert complete("kjob st", 1) == ["status"]
    assert "--json" in complete("kjob wait --j", 2)
    refs = complete("kjob fetch ", 2)
    assert refs[:2] == ["@last", tag]
    assert complete(f"kjob status {tag[:8]}", 2)[0] == tag


def test_version_and_help():
    version = run_kjob(["--version"])
    assert version.returncode == 0 and version.stdout.decode().startswith("kjob 0.")
    help_text = run_kjob(["--help"]).stdout.decode()
    for needle in ("Exit codes:", "130", "KJOB_URL", "KJOB_TOKEN", "KI_URL", "submit", "cancel", "list", "completion"):
        assert needle in help_text


@pytest.mark.parametrize("command", ["submit", "status", "wait", "fetch", "cancel", "list", "history", "completion"])
def test_every_command_has_help(command):
    result = run_cli([command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: kjob {command}") and len(result.stdout.splitlines()) > 4
