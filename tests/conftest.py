"""Shared fixtures: emulated clusters on 127.0.0.1 (in process), and ways to run kjob as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from kjob.cli import cli
from kjob.emulator import Credentials, Emulator

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
