"""Never the wrong job: every REF kjob prints names its job; an answer about another job, a
reused tag of another endpoint and a status word kjob does not know are never taken as an outcome."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import run_cli, run_kjob
from hostile_server import Hostile, answering, job_record

ALTER = {"table_name": "t", "action": "refresh", "value": ""}
SQL = {"statement": "SELECT 1"}


def submit(url: str, *extra: str, endpoint: str = "/alter/table", payload: dict | None = None) -> tuple[int, str, str]:
    result = run_cli(["submit", endpoint, "--url", url, "--data", json.dumps(payload or ALTER), *extra])
    return result.exit_code, result.stdout, result.stderr


def test_an_all_digit_tag_is_printed_as_a_ref_that_names_its_job(emulator):
    for _ in range(3):  # jobs 1, 2 and 3 exist: a bare `3` names job id 3, not the job tagged 3
        assert submit(emulator.url, "-q")[0] == 0
    code, out, err = submit(emulator.url, "-q", "--tag", "3", payload={**ALTER, "table_name": "digits"})
    assert (code, out, err) == (0, "tag:3\n", "")
    looked = json.loads(run_cli(["status", out.strip(), "--url", emulator.url, "--json"]).stdout)
    assert (looked["job_id"], looked["job_tag"]) == (4, "3")
    assert run_cli(["history", "-q", "-n", "1"]).stdout == "tag:3\n"
    assert run_cli(["history", "-n", "1"]).stdout.endswith(f"  4  /alter/table  {emulator.url}  tag:3\n")
    assert run_cli(["list", "--all", "-q", "--url", emulator.url]).stdout.splitlines()[0] == "tag:3"
    assert run_cli(["status", "@last", "--url", emulator.url, "--json"]).stdout.count('"job_id":4,') == 1
    waited = run_cli(["wait", "@last", "--url", emulator.url, "--progress", "none"])
    assert re.fullmatch(r"job tag:3 /alter/table: (already DONE|DONE \(waited \d+\.\d s\))\n", waited.stdout), waited.stdout


def test_interrupted_wait_names_an_all_digit_tag_as_a_ref(emulator):
    import signal
    import subprocess
    import sys

    assert submit(emulator.url, "--tag", "77", "-q", payload={**ALTER, "options": {"emulator_duration": "30"}})[0] == 0
    process = subprocess.Popen([sys.executable, "-m", "kjob", "wait", "tag:77", "--url", emulator.url, "--progress", "plain"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert "RUNNING" in process.stderr.readline().decode()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == -signal.SIGINT  # a shell reports 130
    assert err.decode().splitlines()[-1] == "kjob: interrupted; the jobs go on on the server: tag:77"


def test_reuse_reports_the_same_job_and_refuses_another_endpoint(emulator):
    code, out, _ = submit(emulator.url, "--tag", "sm-1", endpoint="/execute/sql", payload=SQL)
    assert code == 0 and out.startswith("job 1 submitted: /execute/sql, tag sm-1")
    again = run_cli(["submit", "/execute/sql", "--tag", "sm-1", "--if-exists", "reuse", "--url", emulator.url,
                     "--data", json.dumps(SQL)])
    assert again.exit_code == 0 and again.stdout == f"job 1 already submitted: /execute/sql, tag sm-1, on {emulator.url}\n"
    other = run_cli(["submit", "/alter/table", "--tag", "sm-1", "--if-exists", "reuse", "--url", emulator.url,
                     "--data", json.dumps(ALTER)])
    assert other.exit_code == 8 and other.stdout == ""
    assert other.stderr == (f"kjob: tag 'sm-1' already names job 1 on {emulator.url}, which runs "
                            "/execute/sql, not /alter/table: --if-exists reuse reports only the same job; choose another tag\n")
    assert emulator.job_count() == 1
    assert run_cli(["history", "-q"]).stdout == "sm-1\n"  # submitted; reused, it stays one entry; the refused one is not recorded


def test_reuse_refuses_a_job_kjob_submitted_with_another_payload(emulator):
    assert submit(emulator.url, "--tag", "nightly", "--if-exists", "reuse", endpoint="/execute/sql", payload=SQL)[0] == 0
    same = {"options": {}, **SQL}  # the same request: a default written out, the keys in another order
    again = run_cli(["submit", "/execute/sql", "--tag", "nightly", "--if-exists", "reuse", "--url", emulator.url,
                     "--data", json.dumps(same)])
    assert again.exit_code == 0 and again.stdout == f"job 1 already submitted: /execute/sql, tag nightly, on {emulator.url}\n"
    other = run_cli(["submit", "/execute/sql", "--tag", "nightly", "--if-exists", "reuse", "--url", emulator.url,
                     "--data", json.dumps({**SQL, "statement": "SELECT 2"})])
    assert (other.exit_code, other.stdout) == (8, "")
    assert other.stderr == (f"kjob: tag 'nightly' already names job 1 on {emulator.url}, which kjob submitted from here with "
                            "another payload: --if-exists reuse reports only the same job; choose another tag "
                            "(--tag-from-payload gives each payload its own)\n")
    assert emulator.job_count() == 1
    [entry] = map(json.loads, run_cli(["history", "--json"]).stdout.splitlines())
    assert sorted(entry) == ["cluster", "endpoint", "job_id", "job_tag", "submitted_at"]  # the digest stays kjob's own


@pytest.mark.parametrize("answered, said", [
    ({"tag": "other"}, "answered about another job (tag other)"),
    ({"tag": "", "job_id": 9}, "answered about another job (job id 9)"),
])
def test_an_answer_about_another_job_is_a_protocol_error_for_that_job(answered, said):
    def get_job(request: dict) -> dict:
        record = job_record("DONE", running=False, **{"tag": "t", "job_id": 1, **answered})
        return record

    with Hostile(answering({"/get/job": get_job}), max_connections=100) as stub:
        ref = "t" if "job_id" not in answered else "1"
        line = f"job {ref}: {stub.url} {said}; not taken as this job's outcome"
        for command in (["status"], ["wait", "--progress", "plain"]):
            result = run_cli([*command, ref, "--url", stub.url])
            assert result.exit_code == 7, (command, result.stdout, result.stderr)
            assert result.stderr.splitlines() == ([f"kjob: {line}"] if command == ["status"] else [])  # said once
            assert result.stdout == ("" if command == ["status"] else line + "\n")
        record = json.loads(run_cli(["wait", ref, "--json", "--url", stub.url]).stdout)
        assert (record["exit_code"], record["job_tag"], record["error"]) == (7, None if ref == "1" else "t", line)
        assert "job_status" not in record


@pytest.mark.parametrize("word", ["done", "Done", "dOnE"])
def test_known_status_words_in_any_case(word):
    with Hostile(answering({"/get/job": lambda request: job_record(word, running=False, tag="t")}), max_connections=100) as stub:
        started = time.monotonic()
        result = run_cli(["wait", "t", "--url", stub.url, "--progress", "plain"])
        assert result.exit_code == 0 and time.monotonic() - started < 5
        assert result.stdout.startswith("job t /alter/table: already DONE")
        assert json.loads(run_cli(["status", "t", "--url", stub.url, "--json"]).stdout)["job_status"] == "DONE"


def test_an_unknown_word_on_a_job_no_longer_running_ends_the_wait_with_exit_9():
    with Hostile(answering({"/get/job": lambda request: job_record("FINISHED", running=False, tag="t")}), max_connections=100) as stub:
        started = time.monotonic()
        result = run_kjob(["wait", "t", "--url", stub.url, "--progress", "plain"], timeout=30)
        assert result.returncode == 9 and time.monotonic() - started < 10
        assert result.stdout.decode() == ("job t /alter/table: already FINISHED: a status kjob does not know "
                                          "(not DONE, ERROR or CANCELLED)\n")
        status = run_cli(["status", "t", "--url", stub.url])
        assert (status.exit_code, status.stdout) == (9, f"job 1  FINISHED  100%  /alter/table  tag t  on {stub.url}\n")
        fetched = run_cli(["fetch", "t", "--url", stub.url])
        assert (fetched.exit_code, fetched.stdout) == (9, "")
        assert fetched.stderr == ("kjob: job t is no longer running, with a status kjob does not know: 'FINISHED' "
                                  "(not DONE, ERROR or CANCELLED)\n")


def test_an_unknown_word_on_a_running_job_waits_only_to_the_deadline():
    with Hostile(answering({"/get/job": lambda request: job_record("queued", running=True, progress=5, tag="t")}), max_connections=100) as stub:
        started = time.monotonic()
        result = run_cli(["wait", "t", "--url", stub.url, "--timeout", "1", "--progress", "plain"])
        assert result.exit_code == 4 and time.monotonic() - started < 5
        assert result.stderr == "kjob: job t /alter/table: queued 5%\nkjob: timed out; still running on the server: t (5%)\n"
        status = run_cli(["status", "t", "--url", stub.url])  # running, in its own word: as RUNNING is
        assert (status.exit_code, status.stderr) == (0, "")
        assert status.stdout == f"job 1  queued    5%  /alter/table  tag t  on {stub.url}\n"


@pytest.mark.parametrize("ref, said", [
    ("²", "kjob: job reference '²' has digits other than 0-9: a job id is written in 0-9"),
    ("١٢", "kjob: job reference '١٢' has digits other than 0-9: a job id is written in 0-9"),
    ("tag:a\nb", "kjob: job tag 'a\\nb' may hold only letters, digits, '_' and '-'"),
])
def test_refs_of_other_digits_or_characters_are_exit_2(emulator, ref, said):
    assert submit(emulator.url, "-q")[0] == 0  # job 1 exists; `١` must not name it  # noqa: RUF003 (the case: a digit of another script)
    for command in ("status", "wait", "cancel", "fetch"):
        result = run_cli([command, ref, "--url", emulator.url])
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", said + "\n"), command


@pytest.mark.parametrize("tag, said", [
    ("abc\n", "kjob: tag 'abc\\n' may hold only letters, digits, '_' and '-'"),
    ("", "kjob: tag is empty: give a tag (letters, digits, '_' and '-'), or leave --tag out for a new unique one"),
])
def test_a_tag_with_a_newline_or_empty_is_refused_not_replaced(emulator, tag, said):
    result = run_kjob(["submit", "/alter/table", "--url", emulator.url, "--tag", tag, "--data", json.dumps(ALTER)])
    assert (result.returncode, result.stdout, result.stderr.decode()) == (2, b"", said + "\n")
    assert emulator.job_count() == 0


def test_a_retried_submit_never_takes_another_endpoints_job_under_its_tag_as_its_own(emulator):
    """The first try reached the server (which refused the taken tag) but its answer was lost:
    the look-up that follows finds a job of another endpoint under the tag, which is not ours."""
    assert submit(emulator.url, "--tag", "taken", endpoint="/execute/sql", payload=SQL)[0] == 0
    emulator.primary.faults.add("drop-after@/create/job*1")
    result = run_cli(["submit", "/alter/table", "--tag", "taken", "--url", emulator.url, "--data", json.dumps(ALTER)])
    assert (result.exit_code, result.stdout) == (8, "")
    assert result.stderr.splitlines()[-1] == (
        f"kjob: tag 'taken' already names job 1 on {emulator.url}, which runs /execute/sql, "
        "not /alter/table: --if-exists reuse reports only the same job; choose another tag")
    assert emulator.job_count() == 1
