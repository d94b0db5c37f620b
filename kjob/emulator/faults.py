"""Server faults the emulator produces on demand, for kjob's tests and for users' own scripts.

A fault is `MODE[@ENDPOINT][*COUNT]`: e.g. `http-503@/get/job*2` answers the next two
/get/job calls with HTTP 503; without @ENDPOINT it hits every endpoint, without *COUNT it
lasts until cleared.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

MODES = {
    "http-500": "answer HTTP 500",
    "http-502": "answer HTTP 502",
    "http-503": "answer HTTP 503",
    "http-504": "answer HTTP 504",
    "unauthorized": "answer HTTP 401 with an ERROR 'Insufficient credentials'",
    "forbidden": "answer HTTP 403 with an ERROR 'Insufficient credentials'",
    "offline": "answer HTTP 400 with an ERROR 'Kinetica is offline'",
    "exiting": "answer HTTP 400 with an ERROR 'Kinetica is exiting'",
    "shutting-down": "answer HTTP 400 with an ERROR 'System shutting down'",
    "draining": "a draining cluster: /show/system/status says so (ha_status), other calls get HTTP 400 'Unavailable: Draining HA queue'",
    "refuse": "answer HTTP 400 with an ERROR 'Emulated refusal' (not a failover condition)",
    "drop": "close the connection without reading the request or answering",
    "drop-after": "handle the request, then close the connection without answering",
    "stall": "never answer (until the emulator stops)",
    "trickle": "send the answer one byte at a time",
    "garbage": "answer HTTP 200 with bytes that are not Avro",
    "truncate": "answer only the first half of the response (with a Content-Length to match)",
    "cut": "promise the whole response, send half of it, then close the connection",
    "html": "answer HTTP 200 with an HTML page, as a proxy would",
    "empty": "answer HTTP 200 with an empty body",
    "wrong-type": "answer in JSON whatever the request's encoding",
}

SPEC = re.compile(r"^(?P<mode>[a-z0-9-]+)(?:@(?P<endpoint>/[A-Za-z0-9/_]+))?(?:\*(?P<count>\d+))?$")


@dataclass
class Fault:
    mode: str
    endpoint: str | None
    remaining: int | None


def parse(spec: str) -> Fault:
    """A fault from its spec; ValueError names what is wrong."""
    match = SPEC.match(spec.strip())
    if not match or match["mode"] not in MODES:
        raise ValueError(f"bad fault {spec!r}: expected MODE[@ENDPOINT][*COUNT], MODE one of {', '.join(MODES)}")
    count = match["count"]
    if count is not None and int(count) < 1:
        raise ValueError(f"bad fault {spec!r}: *COUNT must be at least 1")
    return Fault(match["mode"], match["endpoint"], int(count) if count else None)


class Faults:
    """The faults armed on one cluster, consumed as requests arrive."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.armed: list[Fault] = []

    def add(self, spec: str) -> Fault:
        fault = parse(spec)
        with self.lock:
            self.armed.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.armed.clear()

    def take(self, endpoint: str) -> str | None:
        """The mode of the first fault armed for `endpoint`, using up one of its count."""
        with self.lock:
            for fault in self.armed:
                if fault.endpoint in (None, endpoint):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.armed.remove(fault)
                    return fault.mode
        return None
