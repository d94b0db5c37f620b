"""The pytest plugin kjob installs: the README's own example, run as a user's test suite would."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(kind: str, first_line: str) -> str:
    found = [body for found_kind, body in re.findall(r"```(\w+)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
             if found_kind == kind and first_line in body.splitlines()[:2]]
    assert len(found) == 1, f"the README has no single {kind} block starting {first_line!r}"
    return found[0]


def test_the_readme_example_passes_as_a_users_test(pytester, monkeypatch):
    """nightly.sh and test_nightly.py as the README shows them: pytest finds the fixture by its entry point."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    pytester.makefile(".sh", nightly=readme_block("sh", "# nightly.sh"))
    pytester.makepyfile(test_nightly=readme_block("python", "# test_nightly.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_fixture_takes_a_ring_seed_and_faults_by_indirect_parametrization(pytester):
    pytester.makepyfile(test_ring="""
        import json
        import pytest
        import requests
        from kjob.protocol import codec

        @pytest.mark.parametrize("kjob_emulator", [{"backup": True, "faults": ["offline@/show/system/status*1"],
                                                    "seed": ["CREATE TABLE t (a INTEGER)"]}], indirect=True)
        def test_ring(kjob_emulator):
            assert len(kjob_emulator.urls) == 2
            body = codec.encode_request("/show/system/status", {"options": {}}, "binary")
            first = requests.post(kjob_emulator.url + "/show/system/status", data=body, timeout=5)
            assert first.status_code == 400
            assert requests.post(kjob_emulator.url + "/show/system/status", data=body, timeout=5).status_code == 200
            sql = {"statement": "SELECT COUNT(*) FROM t", "offset": 0, "limit": -9999, "encoding": "json",
                   "request_schema_str": "", "data": [], "options": {}}
            answer = requests.post(kjob_emulator.url + "/execute/sql", data=codec.encode_request("/execute/sql", sql, "binary"), timeout=5)
            result = codec.decode_response("/execute/sql", answer.content, "binary")
            assert json.loads(result["json_encoded_response"])["column_1"] == [0]

        def test_defaults(kjob_emulator):
            assert len(kjob_emulator.urls) == 1
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_marker_is_registered(pytester):
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.kjob_emulator(**settings)*"])


def test_the_fixture_keeps_the_tests_jobs_out_of_the_users_record(pytester):
    """A kjob run inside a user's test writes the test's own record, never the user's own
    (where @last would then name a job on an emulator that is gone)."""
    users_state = Path(os.environ["XDG_STATE_HOME"])
    pytester.makepyfile(test_record="""
        import os
        import subprocess
        import sys

        def test_submit_then_history(kjob_emulator):
            env = {**os.environ, "KJOB_URL": kjob_emulator.url}
            kjob = [sys.executable, "-m", "kjob"]
            tag = subprocess.run(kjob + ["submit", "/execute/sql", "-q", "--data", '{"statement": "SELECT 1"}'],
                                 env=env, capture_output=True, text=True, check=True).stdout.strip()
            last = subprocess.run(kjob + ["history", "-n", "1"], env=env, capture_output=True, text=True, check=True)
            assert tag in last.stdout
            assert os.environ["XDG_STATE_HOME"] != {users_state!r}
    """.replace("{users_state!r}", repr(str(users_state))))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (users_state / "kjob").exists()
