"""A Kinetica stand-in whose answers a test writes: for what the emulator never says.

A real HTTP server on 127.0.0.1 (binary wire, kjob's default), answering each endpoint with the
record a test function returns for the decoded request, encoded by kjob's codec. Used for a
server that names another job, status words kjob does not know, or /admin/show/jobs rows in
the server's own words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kjob.protocol import codec


def job_answer(status: str, *, running: bool, progress: int = 100, endpoint: str = "/alter/table",
               tag: str = "t", job_id: int = 1) -> dict:
    """A /get/job response record with no job response."""
    return {"endpoint": endpoint, "job_status": status, "running": running, "progress": progress,
            "successful": status.upper() == "DONE", "response_encoding": "binary", "job_response": b"",
            "job_response_str": "", "status_map": {}, "info": {"job_tag": tag, "job_id": str(job_id)}}


class StubCluster:
    """`answers[path](request) -> record`; a path without an answer is a 404."""

    def __init__(self, answers: dict[str, Callable[[dict], dict]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> StubCluster:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path not in stub.answers:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = codec.decode_request(self.path, body, "binary")
                stub.requests.append((self.path, request))
                out = codec.encode_response(self.path, stub.answers[self.path](request), "binary")
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        return Handler
