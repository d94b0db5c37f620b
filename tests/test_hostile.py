"""Hostile servers, signals and odd streams, run as whole processes: deadlines that hold, no
secret and no raw control character in any sink, nothing left behind, one download."""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time

import fault_cases
import pytest
from conftest import alter, run_kjob, start
from hostile_server import Hostile, claiming, error, get_job, http
from screen import run_in_pty

ALTER = json.dumps(fault_cases.ALTER)
KJOB = [sys.executable, "-m", "kjob"]


def shell(command: str, **env: str) -> subprocess.CompletedProcess:
    """A kjob command line run by bash (for `>&-`, `> /dev/full` and the like)."""
    return subprocess.run(["bash", "-c", command.replace("KJOB ", f"{sys.executable} -m kjob ")], capture_output=True,
                          env={**os.environ, **env}, timeout=60)


def test_a_drip_cannot_keep_status_past_its_deadline():
    """A byte every half second: `--timeout 1.5 --http-timeout 1` ends within the 1.5 s (and a margin for start-up)."""
    with Hostile(http(get_job()), drip=0.5) as server:
        started = time.monotonic()
        result = run_kjob(["status", "t1", "--url", server.url, "--timeout", "1.5", "--http-timeout", "1"])
        elapsed = time.monotonic() - started
    assert result.returncode == 4, result.stderr  # --timeout ended the tries: timed out
    lines = result.stderr.decode().splitlines()
    # The first try gives up after 1 s (then kjob tries again, or, on a slow machine, the deadline has come).
    first = rf"kjob: no cluster answered \({server.url}: no complete answer within 1 s\); trying again in [\d.]+ s"
    assert all(re.fullmatch(first, line) for line in lines[:-1]), lines
    assert lines[-1] == f"kjob: timed out after 1.5 s (--timeout): no answer from {server.url} to /get/job", lines
    assert elapsed < 1.5 + 1.0, elapsed


def test_a_tls_handshake_that_drips_is_cut_off_at_the_http_timeout():
    """A TLS server hello at 20 bytes a second: the handshake too ends within --http-timeout."""
    with Hostile(b"\x16\x03\x03\x10\x00" + b"\x02" * 400, drip=0.05, read_request=False) as server:
        started = time.monotonic()
        result = run_kjob(["status", "t1", "--url", server.url.replace("http://", "https://"), "--insecure",
                           "--http-timeout", "0.5"])
        elapsed = time.monotonic() - started
    assert result.returncode == 7, result.stderr
    lines = result.stderr.decode().splitlines()
    url = server.url.replace("http://", "https://")
    assert lines[0] == "kjob: warning: --insecure: TLS certificates are not checked"
    assert lines[-1] == f"kjob: no cluster answered /get/job (tried {url}: no complete answer within 0.5 s)"
    assert elapsed < 4, elapsed  # three rounds of 0.5 s, with backoff between them


def test_the_job_records_lock_held_elsewhere_does_not_hang_submit(emulator, tmp_path):
    folder = tmp_path / "state" / "kjob"
    folder.mkdir(parents=True)
    with open(folder / "jobs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another kjob, stopped while it held the record
        started = time.monotonic()
        result = run_kjob(["submit", "/alter/table", "-q", "--url", emulator.url, "--data", ALTER, "--timeout", "2",
                           "--http-timeout", "1"])
        elapsed = time.monotonic() - started
    assert result.returncode == 0 and result.stdout.strip()
    assert result.stderr.decode() == (f"kjob: warning: cannot record the job in {folder}/jobs.jsonl: another process has "
                                       "held its lock for 1 s\n")
    assert elapsed < 3.5, elapsed
    assert emulator.job_count() == 1


def _wait_for_partial(folder, process) -> None:
    deadline = time.monotonic() + 20
    while not any(name.endswith(".kjob-partial") for name in os.listdir(folder)):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the fetch never started writing"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_fetch_o_leaves_no_temporary_file(tmp_path, signum):
    target = tmp_path / "result.bin"
    target.write_text("yesterday\n")
    answer = http(get_job(job_response=b"x" * 20_000))
    with Hostile(answer[: len(answer) // 2] + answer[len(answer) // 2 :], drip=0.005) as server:
        process = subprocess.Popen([*KJOB, "fetch", "t1", "--raw", "-o", str(target), "--url", server.url,
                                    "--http-timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_partial(tmp_path, process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signum, stderr
    assert stderr.decode().strip().splitlines()[-1] == f"kjob: terminated by {signal.Signals(signum).name}"
    assert target.read_text() == "yesterday\n" and os.listdir(tmp_path) == ["result.bin"]


def test_sigterm_during_wait_gives_the_cursor_back(emulator):
    tag = start(emulator.url, "/alter/table", alter(30))
    code, screen = run_in_pty(["wait", tag, "--url", emulator.url, "--interval", "0.2"], columns=120, timeout=20,
                              when=((b"\x1b[?25l", b"RUNNING"), lambda kjob: kjob.send_signal(signal.SIGTERM)))
    assert code == 143, screen[-400:]  # SIGTERM came once the bars were up and the cursor hidden
    after = screen[screen.rindex("\x1b[?25l"):]
    assert "\x1b[?25h" in after, after[-300:]  # shown again
    assert after.endswith("kjob: terminated by SIGTERM\r\n"), after[-300:]


def test_stdout_closed_or_full_is_one_line_and_exit_2(emulator):
    tag = start(emulator.url, "/alter/table", ALTER, "--wait")
    closed = shell(f"KJOB status {tag} --url {emulator.url} >&-")
    assert (closed.returncode, closed.stderr) == (2, b"kjob: cannot write to stdout: it is closed\n")
    full = shell(f"KJOB fetch {tag} --url {emulator.url} > /dev/full")
    assert (full.returncode, full.stderr) == (2, b"kjob: cannot write to stdout: No space left on device\n")


def test_stderr_closed_or_full_keeps_the_outcomes_exit_code(emulator):
    for redirect in ("2>&-", "2>/dev/full"):
        missing = shell(f"KJOB status nope --url {emulator.url} {redirect}")
        assert missing.returncode == 5, (redirect, missing.stderr)
    shown = shell(f"KJOB status nope --url {emulator.url} 2>&1 >&- <&-")
    assert shown.returncode == 5 and shown.stdout.startswith(b"kjob: job nope not found")


def test_stdin_closed_is_named(emulator):
    result = shell(f"KJOB submit /alter/table --url {emulator.url} <&-")
    assert (result.returncode, result.stderr) == (2, b"kjob: no payload: stdin is closed; give --data JSON or --file PATH\n")
    password = shell(f"KJOB status 1 --url {emulator.url} --user alice --password-stdin <&-")
    assert (password.returncode, password.stderr) == (2, b"kjob: --password-stdin reads the password from stdin, but stdin is closed\n")
    assert emulator.job_count() == 0


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.mark.parametrize("to_stdout", [False, True], ids=["-o FILE", "> /dev/full"])
def test_fetch_raw_to_a_full_disk_is_a_local_error_at_once(tmp_path, to_stdout):
    """The sink's write error is kjob's own (exit 2), never the cluster's: one download, no retry."""
    target = tmp_path / "result.bin"
    target.write_text("yesterday\n")
    with Hostile(http(get_job(job_response=b"x" * 100_000))) as server:
        if to_stdout:
            result = shell(f"KJOB fetch t1 --raw --url {server.url} > /dev/full")
            assert result.stderr == b"kjob: cannot write to stdout: No space left on device\n"
        else:
            result = subprocess.run([*KJOB, "fetch", "t1", "--raw", "-o", str(target), "--url", server.url],
                                    capture_output=True, preexec_fn=_limit_file_size, timeout=60)
            assert result.stderr.startswith(f"kjob: cannot write {target}: File too large (nothing was changed)".encode())
            assert target.read_text() == "yesterday\n" and os.listdir(tmp_path) == ["result.bin"]
        assert result.returncode == 2
        assert len(server.requests) == 1


def test_output_through_a_symlink_a_fifo_and_a_device(tmp_path):
    body = b"x" * 5000
    with Hostile(http(get_job(job_response=body))) as server:
        fetch = [*KJOB, "fetch", "t1", "--raw", "--url", server.url, "-o"]
        (tmp_path / "real.bin").write_text("old")
        (tmp_path / "link.bin").symlink_to("real.bin")
        assert subprocess.run([*fetch, str(tmp_path / "link.bin")], capture_output=True, timeout=60).returncode == 0
        assert (tmp_path / "link.bin").is_symlink() and (tmp_path / "real.bin").read_bytes() == body
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        received = []
        reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
        reader.start()
        deadline = time.monotonic() + 10
        while True:  # until the reader has the FIFO open (a writer would be refused before)
            result = subprocess.run([*fetch, str(fifo)], capture_output=True, timeout=60)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
        reader.join(timeout=10)
        assert result.returncode == 0 and received == [body] and fifo.is_fifo()
        assert subprocess.run([*fetch, "/dev/null"], capture_output=True, timeout=60).returncode == 0
        assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_the_step_summary_is_redacted_and_shows_control_characters(tmp_path):
    summary = tmp_path / "summary.md"
    message = "disk full for alice:s3cret-pw \x1b[2J<img src=x>|"
    with Hostile(http(get_job(job_status="ERROR", successful=False, status_map={"error_message": message}))) as server:
        result = run_kjob(["wait", "t1", "--url", server.url, "--progress", "plain"],
                          env={"GITHUB_STEP_SUMMARY": str(summary), "KJOB_USER": "alice", "KJOB_PASSWORD": "s3cret-pw"})
    assert result.returncode == 1
    text = summary.read_text()
    assert "s3cret-pw" not in text and "\x1b" not in text and "<img" not in text
    assert "disk full for alice:*** \\x1b[2J&lt;img src=x&gt;\\|" in text
    assert b"s3cret-pw" not in result.stderr and b"\x1b" not in result.stderr


def test_no_redirect_is_followed_and_no_compression_asked_for():
    with Hostile(http(get_job())) as elsewhere, \
         Hostile(http(b"", "307 Temporary Redirect", headers={"Location": elsewhere.url + "/get/job"})) as server:
        result = run_kjob(["status", "t1", "--url", server.url])
    assert result.returncode == 7
    assert result.stderr.decode().splitlines()[-1] == (
        f"kjob: no cluster answered /get/job (tried {server.url}: HTTP 307, a redirect to {elsewhere.url}/get/job: "
        "kjob follows none (is the URL the cluster's?))")
    assert elsewhere.requests == []
    assert all(request.line.startswith("POST /get/job ") for request in server.requests)
    assert {request.headers.get("accept-encoding") for request in server.requests} == {"identity"}


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_timeout_that_is_no_number_of_seconds_is_exit_2(value):
    result = run_kjob(["status", "1", "--url", "http://127.0.0.1:9", "--timeout", value])
    assert result.returncode == 2 and f"'{value}' is not a duration".encode() in result.stderr


def test_an_error_from_a_server_shown_in_wait_carries_no_raw_escape():
    with Hostile(http(error("\x1b]0;owned\x07 refused"))) as server:
        result = run_kjob(["wait", "t1", "--url", server.url, "--progress", "plain"])
    assert result.returncode == 8
    assert b"\x1b" not in result.stdout + result.stderr  # the outcome line, said once on stdout, names the job
    assert result.stdout == f"job t1: REFUSED: server refused /get/job on {server.url}: \\x1b]0;owned\\x07 refused\n".encode()


def test_kjobs_own_colour_survives_and_the_servers_escapes_do_not():
    """On a terminal the status word is coloured by kjob, and the server's escape sequences in it are shown, not sent."""
    with Hostile(http(get_job(job_status="DONE"))) as good, Hostile(http(get_job(job_status="DONE\x1b[2J"))) as bad:
        screens = [run_in_pty(["status", "t1", "--url", server.url])[1] for server in (good, bad)]
    assert "\x1b[32m\x1b[1mDONE\x1b[0m  100%" in screens[0]
    assert "DONE\\x1b[2J\x1b[0m" in screens[1] and "\x1b[2J" not in screens[1]


def test_a_job_record_grown_huge_is_read_from_its_end(tmp_path):
    """Only the newest 16 MiB of the record are read: a file that grew wild costs no more memory than that."""
    folder = tmp_path / "state" / "kjob"
    folder.mkdir(parents=True)
    line = fault_cases.RECORD_LINE % "7"
    with open(folder / "jobs.jsonl", "w") as handle:
        handle.write(line.replace('"t1"', '"old"'))
        handle.write("x" * (1 << 25) + "\n")
        handle.write(line)
    result = run_kjob(["history", "--json"], env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert result.returncode == 0
    assert [json.loads(text)["job_tag"] for text in result.stdout.decode().splitlines()] == ["t1"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_a_claimed_length_is_not_allocated_before_its_bytes_come():
    """An answer of unknown length (chunked) whose string claims 3 GiB, then ends: under a 2 GiB
    address-space limit kjob reads what comes in steps and reports the answer cut short."""
    answer = http(claiming("job_response_str", 3 << 30, data_size=1 << 20), length=-1)
    with Hostile(answer) as server:
        result = subprocess.run([*KJOB, "status", "t1", "--url", server.url, "--http-timeout", "5"], capture_output=True,
                                preexec_fn=_limit_memory, timeout=60)
    assert result.returncode == 7, result.stderr
    assert b"the stream ended after 0" in result.stderr and b"MemoryError" not in result.stderr


def test_markup_in_a_status_word_is_shown_as_written_in_the_bars_and_summary():
    """wait's bars and summary table on a terminal: a server's `[link=...]` is text, not a hyperlink."""
    with Hostile(http(get_job(job_status="[link=http://evil.example]RUNNING[/link]", running=True))) as server:
        code, screen = run_in_pty(["wait", "t1", "--url", server.url, "--timeout", "0.6", "--interval", "0.2"],
                                  columns=160)
        assert code == 4
    assert "[link=http://evil.example]RUNNING[/link]" in screen
    assert "\x1b]8;" not in screen  # no hyperlink escape
