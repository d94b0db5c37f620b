"""The decoders under a coverage-guided fuzzer (atheris), bounded, plus what it has found."""

import os
import subprocess
import sys

import pytest

from kjob.errors import ProtocolError
from kjob.protocol import avro, codec


def test_atheris_finds_nothing_but_kjobs_own_errors(tmp_path):
    pytest.importorskip("atheris")
    fuzzer = os.path.join(os.path.dirname(__file__), "fuzz_decoders.py")
    result = subprocess.run([sys.executable, fuzzer, "-runs=20000", "-max_len=400", "-seed=1"], cwd=tmp_path,
                            capture_output=True, timeout=240)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"Done 20000 runs" in result.stderr


class Drop:
    def begin(self, size):
        pass

    def write(self, chunk):
        pass


@pytest.mark.parametrize("body", [b"\x00\x00\x00\x21\x00\x00"], ids=["negative-data-length"])
def test_inputs_the_fuzzer_found(body):
    with pytest.raises(ProtocolError):
        codec.read_get_job_stream(avro.Source(body), Drop())
