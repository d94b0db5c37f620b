"""Large payloads and responses: the bytes that arrive are the bytes that were sent (no times asserted)."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import alter, run_cli, run_kjob, start

from kjob.emulator.large import LARGE_PAYLOAD, STREAM_PADDING
from kjob.protocol import schemas


@pytest.fixture
def big_avro(tmp_path):
    """An /alter/table request in Avro binary, a little over the emulator's large-payload bound."""
    value = "v" * (LARGE_PAYLOAD + 12345)
    record = {"table_name": "t", "action": "refresh", "value": value, "options": {"emulator_duration": "0"}}
    path = tmp_path / "payload.avro"
    path.write_bytes(schemas.endpoint("/alter/table").request.encode(record))
    return path


@pytest.mark.parametrize("wire", ["binary", "json", "snappy"])
def test_a_large_avro_payload_arrives_whole(emulator, big_avro, wire):
    result = run_kjob(["submit", "/alter/table", "--avro", str(big_avro), "--url", emulator.url, "--json", "--wire", wire])
    assert result.returncode == 0, result.stderr
    # A streamed body is digested as it arrives and kept nowhere (and no endpoint returns a job's
    # request): the digest the emulator took is the only witness of what arrived.
    job = emulator.ring.jobs[json.loads(result.stdout)["job_tag"]]
    expected = big_avro.read_bytes()
    assert (job.digested is not None) == (wire == "binary")  # only a binary body streams
    if job.digested is not None:  # streamed into the server and digested there
        assert job.digested.size == len(expected)
        assert job.digested.sha256 == hashlib.sha256(expected).hexdigest()
    else:  # JSON and snappy bodies are read whole by the server and decoded
        assert job.request["value"] == "v" * (LARGE_PAYLOAD + 12345)


def test_a_large_snappy_payload_decodes_on_the_server(emulator, big_avro):
    result = run_kjob(["submit", "/alter/table", "--avro", str(big_avro), "--encoding", "snappy", "--url", emulator.url, "--json"])
    assert result.returncode == 0, result.stderr
    job = emulator.ring.jobs[json.loads(result.stdout)["job_tag"]]  # the server's own decoding is the point
    assert job.request_encoding == "snappy" and job.request["value"] == "v" * (LARGE_PAYLOAD + 12345)


def padded_job(url: str, size: int, encoding: str = "binary") -> str:
    return start(url, "/alter/table", alter(0, emulator_response_bytes=str(size)), "--encoding", encoding)


@pytest.mark.parametrize("size", [1000, STREAM_PADDING + 777])
def test_fetch_raw_to_a_file_is_the_servers_response(emulator, tmp_path, size):
    tag = padded_job(emulator.url, size)
    target = tmp_path / "out.avro"
    result = run_kjob(["fetch", tag, "--raw", "-o", str(target), "--url", emulator.url])
    assert result.returncode == 0, result.stderr
    response = schemas.endpoint("/alter/table").response.decode(target.read_bytes())
    assert response["info"]["emulator_padding"] == "x" * size
    assert response["table_name"] == "t"


@pytest.mark.parametrize("wire", ["binary", "json"])
def test_fetch_decoded_of_a_streamed_response(emulator, tmp_path, wire):
    tag = padded_job(emulator.url, STREAM_PADDING + 99)
    target = tmp_path / "out.json"
    result = run_kjob(["fetch", tag, "-o", str(target), "--url", emulator.url, "--wire", wire])
    assert result.returncode == 0, result.stderr
    value = json.loads(target.read_text())
    assert value["info"]["emulator_padding"] == "x" * (STREAM_PADDING + 99)


def test_status_and_wait_of_a_job_with_a_large_response(emulator):
    tag = padded_job(emulator.url, STREAM_PADDING * 3)
    status = run_cli(["status", tag, "--url", emulator.url, "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["job_status"] == "DONE"
    assert run_cli(["wait", tag, "--url", emulator.url, "-q"]).exit_code == 0


def test_fetch_raw_to_stdout_streams_the_bytes(emulator):
    tag = padded_job(emulator.url, STREAM_PADDING + 5)
    result = run_kjob(["fetch", tag, "--raw", "--url", emulator.url])
    assert result.returncode == 0
    assert schemas.endpoint("/alter/table").response.decode(result.stdout)["info"]["emulator_padding"] == "x" * (STREAM_PADDING + 5)


def test_the_emulator_streams_a_response_gpudb_reads(emulator):
    import gpudb

    tag = padded_job(emulator.url, STREAM_PADDING + 3)
    job = gpudb.GPUdb(host=emulator.url).get_job(-1, options={"job_tag": tag})
    assert job["job_status"] == "DONE"
    decoded = schemas.endpoint("/alter/table").response.decode(job["job_response"])
    assert len(decoded["info"]["emulator_padding"]) == STREAM_PADDING + 3
