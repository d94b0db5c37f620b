"""Bad input and broken servers: one line, the documented exit code, nothing lost, no secret shown."""

from __future__ import annotations

import json
import os
import pty
import resource
import signal
import subprocess
import sys
import time

import fault_cases
import pytest
from conftest import alter, run_kjob, sql, start, submit_json, wait_for

from kjob.emulator import Emulator

ALTER = json.dumps(fault_cases.ALTER)


@pytest.fixture(scope="module")
def outcomes():
    """Every case run once (each on an emulator of its own): the table and each outcome."""
    text, results = fault_cases.compute()
    return text, {case.what: (code, said, seconds) for case, code, said, seconds in results}


@pytest.mark.parametrize("case", fault_cases.CASES, ids=[case.what for case in fault_cases.CASES])
def test_each_bad_input_and_fault(outcomes, case):
    code, said, seconds = outcomes[1][case.what]
    assert code == case.exit_code, said
    assert case.says in said
    if code and not case.on_stdout:
        assert said.startswith("kjob: ") and "Traceback" not in said
    assert seconds < 15  # bounded by the timeouts, never a hang


def test_the_readme_table_is_what_the_cases_give(outcomes):
    with open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8") as handle:
        shown = fault_cases.readme_section(handle.read())
    assert shown == outcomes[0], "README's fault table is stale: run `make readme`"


def done_job(emulator, *extra_options: str, size: int = 0) -> str:
    return start(emulator.url, "/alter/table", alter(0, emulator_response_bytes=str(size)), *extra_options)


def old_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "result.json"
    target.write_text("yesterday\n")
    return target


def assert_kept(target) -> None:
    assert target.read_text() == "yesterday\n"
    assert os.listdir(target.parent) == [target.name]


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_fetch_to_a_full_disk_keeps_the_old_file(emulator, tmp_path):
    tag = done_job(emulator, size=100_000)
    target = old_file(tmp_path)
    result = subprocess.run([sys.executable, "-m", "kjob", "fetch", tag, "-o", str(target), "--url", emulator.url],
                            capture_output=True, preexec_fn=_limit_file_size, timeout=60)
    assert result.returncode == 2
    assert result.stderr.decode() == f"kjob: cannot write {target}: File too large (nothing was changed)\n"
    assert_kept(target)


def test_fetch_with_the_connection_cut_halfway_keeps_the_old_file(emulator, tmp_path):
    tag = done_job(emulator, size=100_000)
    target = old_file(tmp_path)
    emulator.primary.faults.add("cut@/get/job")
    result = run_kjob(["fetch", tag, "--raw", "-o", str(target), "--url", emulator.url, "--http-timeout", "5"])
    assert result.returncode == 7
    assert result.stderr.decode().splitlines()[-1] == (
        f"kjob: no cluster answered /get/job (tried {emulator.url}: the answer was cut off)")
    assert_kept(target)


@pytest.mark.parametrize(("raised", "caught"), [("KeyboardInterrupt()", "KeyboardInterrupt"), ("Terminated(15)", "Terminated")])
def test_a_signal_dropped_by_a_finalizer_is_raised_again(raised, caught):
    """CPython drops what a __del__ or a weakref callback raises: a Ctrl-C whose handler ran in
    one (an import's module lock) was printed as "Exception ignored" and lost."""
    code = ("import time\n"
            "from kjob.cli import streams\n"
            "from kjob.errors import Terminated\n"
            "streams.terminate_on_signals()\n"
            "class Finalized:\n"
            f"    def __del__(self): raise {raised}\n"
            "try:\n"
            "    Finalized()\n"
            "    end = time.monotonic() + 20\n"
            "    while time.monotonic() < end: pass\n"
            "    print('lost')\n"
            "except (KeyboardInterrupt, Terminated) as exc:\n"
            "    print(type(exc).__name__)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert (result.stdout.decode(), result.stderr.decode()) == (caught + "\n", "")

def test_ctrl_c_after_a_cancel_was_sent_says_so(tmp_path):
    with Emulator(port=0, record=True) as emulator:
        created = submit_json(emulator.url, "/execute/sql", sql(30, "INSERT INTO cities VALUES (8, 'Oslo', 5.0)"))
        tag = created["job_tag"]  # a job that writes: the cancel does not stop it, and kjob looks again for 5 s
        process = subprocess.Popen([sys.executable, "-m", "kjob", "cancel", tag, "--url", emulator.url],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def looked_after_the_cancel() -> bool:  # kjob is in its looks again: the cancel was answered
            paths = [path for path, _, _ in emulator.primary.recorded]
            return "/admin/alter/jobs" in paths and "/get/job" in paths[paths.index("/admin/alter/jobs") + 1:]

        wait_for(looked_after_the_cancel, what="a look after the cancel")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert (process.returncode, out) == (-signal.SIGINT, b"")  # a shell reports 130
    assert err.decode().splitlines() == [f"kjob: interrupted; the cancel of {tag} was sent, and the job may still be "
                                         f"stopping (check with: kjob status {tag})"]

def test_ctrl_c_during_fetch_keeps_the_old_file(emulator, tmp_path):
    tag = done_job(emulator, size=20_000)
    target = old_file(tmp_path)
    trickle = emulator.primary.faults.add("trickle@/get/job*1")  # 5 ms a byte: about 100 s for this answer
    process = subprocess.Popen([sys.executable, "-m", "kjob", "fetch", tag, "--raw", "-o", str(target), "--url",
                                emulator.url, "--http-timeout", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while trickle.remaining:  # until the answer is on its way, into the temporary file
        assert time.monotonic() < deadline, "the fetch never asked for the job"
        time.sleep(0.05)
    assert any(name.endswith(".kjob-partial") for name in os.listdir(target.parent))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == -signal.SIGINT and b"Traceback" not in stderr  # a shell reports 130
    assert_kept(target)


def test_a_closed_pipe_ends_status_quietly(emulator):
    tag = done_job(emulator)
    process = subprocess.Popen(f"{sys.executable} -m kjob status {tag} {tag} --url {emulator.url} | head -c1",
                               shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=30)
    assert stdout == b"j" and stderr == b""


def test_a_closed_pipe_ends_wait_json_quietly(emulator):
    tags = [done_job(emulator) for _ in range(3)]
    command = [sys.executable, "-m", "kjob", "wait", *tags, "--url", emulator.url, "--json", "--progress", "none"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    stderr = process.stderr.read()
    process.wait(timeout=30)
    assert json.loads(first)["job_status"] == "DONE"
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr
    assert process.returncode in (0, 141), stderr  # 0 when all lines fit in the pipe before it closed


def test_stdin_a_terminal_with_no_payload_is_exit_2(emulator):
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "kjob", "submit", "/alter/table", "--url", emulator.url],
                               stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(secondary)
    _, stderr = process.communicate(timeout=30)
    os.close(primary)
    assert process.returncode == 2
    assert stderr.decode() == "kjob: no payload: give --data JSON, --file PATH, or pipe it to stdin\n"
    assert emulator.job_count() == 0


def test_retries_are_bounded_in_time(emulator):
    emulator.primary.faults.add("http-503")
    started = time.monotonic()
    result = run_kjob(["status", "x-tag", "--url", emulator.url])
    assert result.returncode == 7 and time.monotonic() - started < 10
    assert result.stderr.count(b"trying again") == 2  # three rounds in all


def test_a_config_file_holding_a_secret_readable_by_others_warns(emulator, tmp_path):
    config = tmp_path / "kjob.toml"
    config.write_text(f'default_profile = "p"\n[profiles.p]\nurl = "{emulator.url}"\nuser = "u"\npassword = "pw-in-file"\n')
    config.chmod(0o644)
    result = run_kjob(["status", "nope", "--url", emulator.url], env={"KJOB_CONFIG": str(config)})
    assert result.stderr.decode().splitlines() == [
        f"kjob: warning: config file {config} holds a secret and is readable by others: chmod 600 {config}",
        f"kjob: job nope not found on {emulator.url} (looked up by tag nope): Job with tag 'nope' not found"]
    config.chmod(0o600)
    assert b"readable by others" not in run_kjob(["status", "nope"], env={"KJOB_CONFIG": str(config)}).stderr


def test_a_password_file_readable_by_others_warns(emulator, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("pw-in-its-own-file\n")
    secret.chmod(0o644)
    config = tmp_path / "kjob.toml"
    config.write_text(f'default_profile = "p"\n[profiles.p]\nurl = "{emulator.url}"\nuser = "u"\npassword_file = "{secret}"\n')
    config.chmod(0o644)  # it names the secret but does not hold it
    result = run_kjob(["status", "nope"], env={"KJOB_CONFIG": str(config)})
    assert result.stderr.decode().splitlines()[0] == f"kjob: warning: the password file {secret} is readable by others: chmod 600 {secret}"
    secret.chmod(0o600)
    assert b"readable by others" not in run_kjob(["status", "nope"], env={"KJOB_CONFIG": str(config)}).stderr


SECRET_PASSWORD, SECRET_TOKEN = "s3cret-pw", "tok-123-secret"


def test_no_secret_in_any_output_of_any_command(secured, tmp_path):
    """A password and a token set; every command, succeeding and failing, verbose; neither is ever shown."""
    env = {"KJOB_USER": "alice", "KJOB_PASSWORD": SECRET_PASSWORD, "KJOB_TOKEN": SECRET_TOKEN}
    url = secured.url
    bad_url = f"http://alice:{SECRET_PASSWORD}@127.0.0.1:9"
    created = run_kjob(["submit", "/alter/table", "-q", "--url", url, "--data", ALTER, "-v"], env=env)
    tag = created.stdout.decode().strip()
    runs = [
        created,
        run_kjob(["status", tag, "-v", "--url", url], env=env),
        run_kjob(["wait", tag, "-v", "--url", url, "--json"], env=env),
        run_kjob(["fetch", tag, "-v", "--url", url], env=env),
        run_kjob(["fetch", tag, "-v", "--raw", "-o", str(tmp_path / "raw.bin"), "--url", url], env=env),
        run_kjob(["history", "--json"], env=env),
        run_kjob(["status", tag, "-v", "--url", bad_url, "--http-timeout", "1"], env=env),
        run_kjob(["submit", "/alter/table", "-v", "--url", bad_url, "--data", ALTER, "--http-timeout", "1"], env=env),
        run_kjob(["status", tag, "-v", "--url", url], env={**env, "KJOB_TOKEN": "wrong-" + SECRET_TOKEN[:3]}),
        run_kjob(["submit", "/alter/table", "-v", "--url", url, "--data", "{bad"], env=env),
    ]
    for result in runs:
        output = result.stdout + result.stderr
        assert SECRET_PASSWORD.encode() not in output and SECRET_TOKEN.encode() not in output, output[-400:]
        assert b"Traceback" not in output
    assert b"Authorization: Bearer <redacted>" in runs[1].stderr
    assert runs[6].stderr.decode().splitlines()[-1] == (
        "kjob: no cluster answered /get/job: nothing is listening at http://127.0.0.1:9 (connection refused); give your "
        "cluster's URL with --url or KJOB_URL, or start the emulator: python -m kjob.emulator")


def test_the_deadline_bounds_a_call_to_a_stalled_server(emulator):
    """--timeout is kept even when one HTTP call may take much longer (--http-timeout)."""
    tag = done_job(emulator)
    emulator.primary.faults.add("stall@/get/job")
    started = time.monotonic()
    result = run_kjob(["wait", tag, "--url", emulator.url, "--timeout", "1", "--http-timeout", "30"])
    assert time.monotonic() - started < 6
    # the deadline ended the only look: timed out (exit 4), and kjob does not claim the job still runs
    assert result.returncode == 4
    assert result.stdout.decode().startswith(f"job {tag}: not seen (waited ")
    assert result.stderr.decode().splitlines() == [f"kjob: timed out; no answer about {tag}"]
