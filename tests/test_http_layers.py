"""The HTTP client's parts (kjob/http/) and the encodings' registry, seen from outside: a failed
exchange named from its exception types, a streamed body sent whole on every try, and every
encoding asked of its object."""

from __future__ import annotations

import re
import socket
import struct
import threading

import pytest
from conftest import run_cli

from kjob.http.session import FileData, StreamedBody
from kjob.protocol import codec, encodings


class Resetting:
    """`with Resetting() as url:` a server on 127.0.0.1 that reads each request and answers
    it with a TCP reset (SO_LINGER 0), for at most `connections` connections."""

    def __init__(self, connections: int = 20) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.connections = connections
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        served = 0
        while not self.stop.is_set() and served < self.connections:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            served += 1
            with connection:
                connection.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and (more := connection.recv(65536)):
                    data += more
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(body) < length and (more := connection.recv(65536)):
                    body += more  # the whole request read: the client waits for its answer
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_reset_connection_is_named_connection_reset():
    with Resetting() as url:
        result = run_cli(["status", "1", "--url", url, "--timeout", "5"])
    *retries, last = result.stderr.splitlines()
    assert result.exit_code == 7
    assert last == f"kjob: no cluster answered /get/job (tried {url}: connection reset)"
    assert len(retries) == 2  # three rounds, the default
    for line in retries:
        assert re.fullmatch(rf"kjob: no cluster answered \({re.escape(url)}: connection reset\); trying again in \d\.\d s", line)


def test_a_streamed_body_is_sent_whole_on_every_iteration(tmp_path):
    payload = tmp_path / "payload.avro"
    payload.write_bytes(bytes(range(256)) * 1000)  # several reads of the file
    middle = memoryview(b"m" * 200_000)  # several chunks of memory
    body = StreamedBody([b"head", FileData(str(payload), payload.stat().st_size), middle, b"tail"])
    whole = b"head" + payload.read_bytes() + bytes(middle) + b"tail"
    assert len(body) == len(whole)
    assert b"".join(body) == whole
    assert b"".join(body) == whole  # a retry iterates again, from the first part


@pytest.mark.parametrize("name", ["binary", "json", "snappy"])
def test_each_encoding_is_found_by_its_name_and_its_content_type(name):
    encoding = encodings.named(name)
    assert (encoding.name, str(encoding)) == (name, name)
    assert encodings.of_content_type(encoding.content_type) is encoding
    assert encodings.answered_in(encoding.answers.name) is encoding.answers
    assert encoding.answers.content_type in encoding.answer_types


def test_the_encodings_and_their_content_types():
    assert encodings.NAMES == ("binary", "json", "snappy")
    assert [encodings.named(name).content_type for name in encodings.NAMES] == [
        "application/octet-stream", "application/json", "application/x-snappy"]
    assert [encodings.named(name).answers.name for name in encodings.NAMES] == ["binary", "json", "binary"]
    assert encodings.of_content_type("text/plain") is encodings.BINARY  # what a server reads an unknown body as
    assert encodings.answered_in("something else") is encodings.BINARY  # gpudb reads any other response_encoding as Avro


def test_a_snappy_request_is_the_compressed_binary_one_and_its_answer_is_binary():
    record = {"options": {"a": "b"}}
    binary = codec.encode_request("/show/system/status", record, "binary")
    snappy = codec.encode_request("/show/system/status", record, "snappy")
    assert encodings.snappy_decompress(snappy) == binary
    answer = codec.encode_response("/show/system/status", {"status_map": {}, "info": {}}, "snappy")
    assert answer == codec.encode_response("/show/system/status", {"status_map": {}, "info": {}}, "binary")


def test_the_cli_offers_the_encodings_of_the_registry():
    result = run_cli(["submit", "--help"])
    assert "--encoding [binary|json|snappy]" in result.stdout
