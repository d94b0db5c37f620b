"""A coverage-guided fuzzer (atheris) for kjob's decoders: nothing but kjob's own errors may escape.

    python tests/fuzz_decoders.py -runs=30000        (tests/test_fuzz.py runs it, bounded)

Every input goes through what reads a server's bytes: the wrapper in binary and JSON, a whole
/get/job answer, the streamed /get/job reader, a job's response and an /execute/sql result.
"""

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from kjob.errors import ProtocolError, ServerRefused
    from kjob.protocol import avro, codec, payload, records

EXPECTED = (ProtocolError, ServerRefused)


class Drop:
    def begin(self, size: int) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        pass


def one_input(data: bytes) -> None:
    for decode in (
        lambda: codec.decode_wrapper(data, "binary"),
        lambda: codec.decode_wrapper(data, "json"),
        lambda: codec.decode_response("/get/job", data, "binary"),
        lambda: codec.decode_response("/get/job", data, "json"),
        lambda: codec.read_get_job_stream(avro.Source(data), Drop()),
        lambda: payload.read_job_response({"endpoint": "/execute/sql", "response_encoding": "binary",
                                           "job_response": data, "job_response_str": ""}),
        lambda: records.rows_of({"json_encoded_response": data.decode("latin-1"), "binary_encoded_response": b"",
                                  "response_schema_str": ""}),
    ):
        with contextlib.suppress(EXPECTED):
            decode()


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
