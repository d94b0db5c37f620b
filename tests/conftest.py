"""Shared fixtures: emulated clusters on 127.0.0.1 (in process), and ways to run kjob as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests
from click.testing import CliRunner

from kjob.cli import cli
from kjob.emulator import Credentials, Emulator
from kjob.protocol import codec, encodings, payload

# Bugs must fail loudly in tests, not hide behind the one-line message.
os.environ["KJOB_DEBUG"] = "1"
# No user configuration, credentials or colour leaks into the tests from the machine.
for name in list(os.environ):
    if name.startswith(("KJOB_", "KI_")) and name != "KJOB_DEBUG":
        del os.environ[name]
os.environ.pop("NO_COLOR", None)


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """Each test has its own (absent) config file and state folder."""
    monkeypatch.delenv("KJOB_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def emulator():
    """One emulated cluster on a free port; jobs last 0.2 s unless their payload says."""
    with Emulator(port=0, job_duration=0.2) as emu:
        yield emu


@pytest.fixture
def recording():
    """One emulated cluster that keeps every request it is sent (path, headers, body): see `created_jobs`."""
    with Emulator(port=0, job_duration=0.2, record=True) as emu:
        yield emu


@pytest.fixture
def ring():
    """A primary and a backup cluster of one HA ring."""
    with Emulator(port=0, backup_port=0, job_duration=0.2) as emu:
        yield emu


@pytest.fixture
def secured():
    """A cluster that wants basic auth (alice / s3cret-pw) or a bearer token (tok-123-secret)."""
    credentials = Credentials(users={"alice": "s3cret-pw"}, tokens={"tok-123-secret"})
    with Emulator(port=0, job_duration=0.2, credentials=credentials) as emu:
        yield emu


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], *, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    """kjob through click's runner (standalone mode: kjob's one-line errors and exit codes)."""
    outcome = CliRunner().invoke(cli, args, input=input, env=env, catch_exceptions=False, prog_name="kjob")
    return Result(outcome.exit_code, outcome.stdout, outcome.stderr)


def run_kjob(args: list[str], *, input: bytes | str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
    """kjob as a real subprocess (`python -m kjob`), stdout and stderr captured apart."""
    full_env = {**os.environ, **(env or {})}
    data = input.encode() if isinstance(input, str) else input
    return subprocess.run([sys.executable, "-m", "kjob", *args], input=data, capture_output=True, env=full_env,
                          timeout=timeout)


def alter(duration: float, outcome: str = "done", message: str = "disk full", **knobs: str) -> str:
    """An /alter/table payload (JSON) whose emulated job lasts `duration` s and ends in `outcome`."""
    options = {"emulator_duration": str(duration), "emulator_outcome": outcome, "emulator_error_message": message,
               **knobs}
    return json.dumps({"table_name": "t", "action": "refresh", "value": "", "options": options})


def sql(duration: float, statement: str = "SELECT * FROM cities", **knobs: str) -> str:
    """An /execute/sql payload (JSON) whose emulated job lasts `duration` s."""
    return json.dumps({"statement": statement, "options": {"emulator_duration": str(duration), **knobs}})


def _submit(urls: str | list[str], endpoint: str, payload: str, *extra: str) -> str:
    url_options = [option for url in ([urls] if isinstance(urls, str) else urls) for option in ("--url", url)]
    result = run_cli(["submit", endpoint, *url_options, "--data", payload, *extra])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def start(urls: str | list[str], endpoint: str, payload: str, *extra: str) -> str:
    """Submit a job as a user does (`kjob submit -q`) and return the reference it prints."""
    return _submit(urls, endpoint, payload, "-q", *extra).strip()


def submit_json(urls: str | list[str], endpoint: str, payload: str, *extra: str) -> dict:
    """Submit a job (`kjob submit --json`) and return the record it prints."""
    return json.loads(_submit(urls, endpoint, payload, "--json", *extra))


def wait_for(condition, *, timeout: float = 10.0, what: str = "the condition"):
    """Poll `condition` until it returns something true, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)
    return value


# --- the server's side, over HTTP ------------------------------------------------------------


def post(url: str, endpoint: str, record: dict, encoding: str = "binary", *, path: str | None = None,
         headers: dict | None = None, auth=None, timeout: float = 5) -> requests.Response:
    """One request as the official client sends it, with plain `requests` (no session, no retries)."""
    content_type = encodings.named(encoding).content_type
    return requests.post(url + (path or endpoint), data=codec.encode_request(endpoint, record, encoding),
                         headers={"Content-Type": content_type, "Accept": content_type, **(headers or {})},
                         auth=auth, timeout=timeout)


def call(url: str, endpoint: str, record: dict, encoding: str = "binary", **kwargs) -> dict:
    """The decoded response record; an ERROR wrapper raises ServerRefused."""
    response = post(url, endpoint, record, encoding, **kwargs)
    assert response.status_code in (200, 400), (response.status_code, response.content[:200])
    return codec.decode_response(endpoint, response.content, encoding)


def get_job(url: str, job_id: int = -1, tag: str = "") -> dict:
    """The server's /get/job record of a job (by id, or by tag): its state as any client sees it."""
    return call(url, "/get/job", {"job_id": job_id, "options": {"job_tag": tag} if tag else {}})


def created_jobs(emulator: Emulator) -> list[dict]:
    """The /create/job requests a recording cluster was sent, decoded as sent: each with its
    payload decoded too (`request`)."""
    jobs = []
    for path, headers, body in emulator.primary.recorded:
        if path == "/create/job":
            job = codec.decode_request(path, body, encodings.of_content_type(headers["content-type"]).name)
            schema = payload.request_schema(job["endpoint"])
            job["request"] = payload.decode_payload(schema, job["data"], job["data_str"], job["request_encoding"])
            jobs.append(job)
    return jobs
