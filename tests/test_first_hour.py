"""The first hour with kjob: options where people put them, help, durations, the nothing-listening
error, `kjob list`, `@last` and the demo's record."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import alter, run_cli, run_kjob, start
from hostile_server import Hostile, answering

ROOT = Path(__file__).resolve().parent.parent


def test_cluster_options_before_the_command(emulator):
    tag = start(emulator.url, "/alter/table", alter(0))
    before = run_kjob(["--url", emulator.url, "status", tag, "--json"])
    after = run_kjob(["status", tag, "--url", emulator.url, "--json"])
    assert before.returncode == after.returncode == 0, before.stderr
    assert json.loads(before.stdout)["job_tag"] == tag == json.loads(after.stdout)["job_tag"]
    both = run_cli([f"--url={emulator.url}", "--http-timeout", "5", "-v", "wait", tag, "-q"])
    assert both.exit_code == 0 and f"> POST {emulator.url}/get/job" in both.stderr


def test_help_command_and_did_you_mean():
    assert run_kjob(["help"]).stdout == run_kjob(["--help"]).stdout
    assert run_kjob(["help", "wait"]).stdout == run_kjob(["wait", "--help"]).stdout
    assert b"  help        show this help, or a command's (kjob help wait)\n" in run_kjob(["--help"]).stdout
    for args, name, suggestion in ((["stauts", "1"], "stauts", "status"), (["help", "wiat"], "wiat", "wait")):
        result = run_kjob(args)
        assert result.returncode == 2 and result.stdout == b""
        assert result.stderr.decode().splitlines()[-1] == f"Error: No such command '{name}'. Did you mean '{suggestion}'?"


@pytest.mark.parametrize("text, seconds", [("90", 90), ("0.5", 0.5), ("90s", 90), ("5m", 300), ("1h30m", 5400),
                                           ("1m30s", 90), ("250ms", 0.25)])
def test_durations_as_people_write_them(text, seconds):
    from kjob.cli.options import Duration

    assert Duration().convert(text, None, None) == seconds


def test_timeout_and_interval_take_durations(emulator):
    slow = start(emulator.url, "/alter/table", alter(30))
    started = time.monotonic()
    result = run_cli(["wait", slow, "--url", emulator.url, "--timeout", "800ms", "--interval", "1s", "-q"])
    assert result.exit_code == 4 and time.monotonic() - started < 5
    bad = run_kjob(["wait", slow, "--url", emulator.url, "--timeout", "5x"])
    assert bad.returncode == 2
    assert bad.stderr.decode().splitlines()[-1] == (
        "Error: Invalid value for '--timeout': '5x' is not a duration: write seconds (90, 0.5) or 90s, 5m, 1h30m")


def test_nothing_listening_is_one_line_with_the_url_and_what_to_do():
    result = run_kjob(["status", "1", "--url", "http://127.0.0.1:9"])
    assert result.returncode == 7 and result.stdout == b""
    assert result.stderr.decode() == (
        "kjob: no cluster answered /get/job: nothing is listening at http://127.0.0.1:9 (connection refused); give your "
        "cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator\n")


def test_list_has_a_header_newest_first_and_counts_the_hidden_ended_jobs(emulator):
    done = [start(emulator.url, "/alter/table", alter(0)) for _ in range(2)]
    running = [start(emulator.url, "/alter/table", alter(30)), start(emulator.url, "/alter/table", alter(30))]
    result = run_cli(["list", "--url", emulator.url])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # the emulator's own words for a running job and an anonymous user (exact lines: the next test)
    word, user = lines[1].split()[1], lines[1].split()[4]
    assert lines[0] == f"ID  {'STATUS':<{len(word)}}  ENDPOINT      RECEIVED              {'USER':<{len(user)}}  TAG"
    assert [line.split()[-1] for line in lines[1:]] == running[::-1]
    assert lines[1].startswith(f" 4  {word}  /alter/table  20")
    assert result.stderr == "kjob: 2 ended jobs not shown (--all shows them)\n"
    everything = run_cli(["list", "--all", "--url", emulator.url])
    assert [line.split()[-1] for line in everything.stdout.splitlines()[1:]] == (done + running)[::-1]
    assert everything.stderr == ""
    assert run_cli(["list", "-q", "--url", emulator.url]).stdout.splitlines() == running[::-1]


def test_list_shows_the_servers_own_status_words():
    rows = {"job_id": [7, 9], "status": ["dispatched", "done"], "endpoint_name": ["/execute/sql", "/alter/table"],
            "time_received": [1_700_000_000_000, 1_700_000_060_000], "auth_id": ["anonymous", "anonymous"],
            "source_ip": ["127.0.0.1:5000"] * 2, "query_text": [""] * 2, "user_data": [""] * 2, "flags": [""] * 2,
            "info": {"job_tag": "a,b"}}
    with Hostile(answering({"/admin/show/jobs": lambda request: rows}), max_connections=100) as stub:
        result = run_cli(["list", "--all", "--url", stub.url])
    assert result.stdout.splitlines() == [
        "ID  STATUS      ENDPOINT      RECEIVED              USER       TAG",
        " 9  done        /alter/table  2023-11-14T22:14:20Z  anonymous  b",
        " 7  dispatched  /execute/sql  2023-11-14T22:13:20Z  anonymous  a",
    ]


def test_at_last_on_a_cluster_not_in_use_says_so(emulator):
    tag = start(emulator.url, "/alter/table", alter(0))
    with Hostile(answering({}), max_connections=100) as other:  # a cluster that does not know the job (it answers 404: no /get/job there)
        result = run_cli(["status", "@last", "--url", other.url])
    assert result.stderr.splitlines()[0] == (
        f"kjob: warning: @last is job 1 (tag {tag}), submitted to {emulator.url}, not to a cluster in use ({other.url}); "
        "looking for its tag there")
    assert result.exit_code == 7
    same = run_cli(["status", "@last", "--url", emulator.url])
    assert same.exit_code == 0 and same.stderr == ""


def test_make_demo_keeps_its_job_out_of_the_users_record(tmp_path):
    """`make demo` as a user runs it (its own .venv is this suite's): afterwards @last is as it was."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHON": "python3"}
    result = subprocess.run(["make", "-s", "--no-print-directory", "demo"], cwd=ROOT, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Amsterdam" in result.stdout
    # piped (a CI log), the wait is plain: one outcome line, no bar, no summary table repeating it
    tag = re.search(r"^   tag: (\S+)$", result.stdout, re.M).group(1)
    lines = result.stdout.splitlines()
    waited = lines[lines.index(f"== kjob wait {tag}") + 1:lines.index(f"== kjob fetch {tag} --format table")]
    assert len(waited) == 1 and re.fullmatch(rf"job {tag} /execute/sql: DONE \(waited \d\.\d s\)", waited[0]), waited
    assert all(re.fullmatch(rf"kjob: job {tag} /execute/sql: RUNNING \d+%", line)
               for line in result.stderr.splitlines()), result.stderr
    assert result.stdout.splitlines()[-1] == (
        "== kjob is installed in .venv: run 'source .venv/bin/activate' (or 'pipx install .') to have it on your PATH")
    assert not (tmp_path / "state" / "kjob" / "jobs.jsonl").exists()


def test_the_readme_emulator_recipe_keeps_its_jobs_out_of_the_users_record(tmp_path, monkeypatch):
    import sys

    from test_readme import blocks

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    record = Path(os.environ["XDG_STATE_HOME"]) / "kjob" / "jobs.jsonl"  # this test's own "user" record
    (recipe,) = [block for block in blocks("python") if "Emulator(" in block]
    exec(compile(recipe, "README.md", "exec"), {})
    assert not record.exists()


def test_the_hidden_count_leaves_out_the_listing_requests_themselves():
    """Kinetica lists the requests it serves: each look's own /admin/show/jobs is no ended job."""
    def rows(request: dict) -> dict:
        jobs = [(7, "dispatched", "/execute/sql"), (8, "dispatched", "/admin/show/jobs")]
        if request["options"]["show_async_jobs"] == "true":
            jobs += [(9, "done", "/alter/table"), (10, "dispatched", "/admin/show/jobs")]
        return {"job_id": [job[0] for job in jobs], "status": [job[1] for job in jobs],
                "endpoint_name": [job[2] for job in jobs], "time_received": [1_700_000_000_000] * len(jobs),
                "auth_id": ["anonymous"] * len(jobs), "source_ip": [""] * len(jobs), "query_text": [""] * len(jobs),
                "user_data": [""] * len(jobs), "flags": [""] * len(jobs), "info": {}}

    with Hostile(answering({"/admin/show/jobs": rows}), max_connections=100) as stub:
        result = run_cli(["list", "--url", stub.url])
    assert result.exit_code == 0 and result.stderr == "kjob: 1 ended job not shown (--all shows them)\n"
