"""HTTPS: certificates checked against --ca-bundle, refused without it, skipped (with a warning) on --insecure."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run_cli, run_kjob

from kjob.emulator import Emulator

DATA = os.path.join(os.path.dirname(__file__), "data")
CERT, KEY = os.path.join(DATA, "emulator-cert.pem"), os.path.join(DATA, "emulator-key.pem")
ALTER = json.dumps({"table_name": "t", "action": "refresh", "value": "", "options": {"emulator_duration": "0"}})


@pytest.fixture
def secure():
    """An emulated cluster that speaks HTTPS with a self-signed certificate for 127.0.0.1."""
    with Emulator(port=0, job_duration=0.1, tls=(CERT, KEY)) as emu:
        yield emu


def test_https_with_the_ca_bundle(secure):
    assert secure.url.startswith("https://127.0.0.1:")
    submitted = run_cli(["submit", "/alter/table", "-q", "--url", secure.url, "--ca-bundle", CERT, "--data", ALTER])
    assert submitted.exit_code == 0, submitted.stderr
    fetched = run_kjob(["fetch", submitted.stdout.strip(), "--wait", "--url", secure.url], env={"KJOB_CA_BUNDLE": CERT})
    assert fetched.returncode == 0 and json.loads(fetched.stdout)["table_name"] == "t"


def test_an_unknown_certificate_is_refused_with_advice(secure):
    result = run_cli(["status", "x-tag", "--url", secure.url, "--http-timeout", "2"])
    assert result.exit_code == 7
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"kjob: no cluster answered /get/job (tried {secure.url}: TLS certificate not trusted (self-signed "
                    "certificate): give its CA with --ca-bundle)")


def test_insecure_skips_the_check_and_says_so(secure):
    result = run_kjob(["submit", "/alter/table", "--url", secure.url, "--insecure", "--data", ALTER])
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == "kjob: warning: --insecure: TLS certificates are not checked\n"


def test_the_emulator_serves_https_from_the_command_line(tmp_path):
    import subprocess
    import sys
    import time

    url_file = tmp_path / "url"
    process = subprocess.Popen([sys.executable, "-m", "kjob.emulator", "--port", "0", "--tls-cert", CERT, "--tls-key", KEY,
                                "--url-file", str(url_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not url_file.exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        url = url_file.read_text().split()[0]
        assert url.startswith("https://")
        assert run_kjob(["status", "x-tag", "--url", url, "--ca-bundle", CERT]).returncode == 5
    finally:
        process.terminate()
        process.wait(timeout=20)
