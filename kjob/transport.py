"""What kjob's HTTP exchanges are made of: streamed request bodies, the User-Agent, a deadline
that every exchange keeps, and short reasons (with whether the request may have arrived) for
exchanges that failed."""

from __future__ import annotations

import heapq
import itertools
import platform
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kjob import __version__

READ_CHUNK = 1 << 16


class Watch:
    """The deadline of one exchange: when it passes, the connection's socket is shut down.

    Socket timeouts bound each read, not the exchange: a server that sends a byte a second,
    in its headers or its body, would keep any number of reads going. Shutting the socket
    down ends whatever read or send is under way, and `fired` tells the failure's reason.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.when = time.monotonic() + max(0.0, seconds)
        self.fired = False
        self.done = False
        self._connection: Any = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        _WATCHDOG.add(self)

    def attach(self, connection: Any) -> None:
        """The connection a request starts on (its socket may not be open yet)."""
        with self._lock:
            self._connection = connection
            fired = self.fired
        if fired:
            self._shut()

    def hold(self, sock: socket.socket | None) -> None:
        """The connection's socket, kept: once the answer's head is read, a connection that will
        close hands its socket to the response and forgets it."""
        with self._lock:
            self._socket = sock
            fired = self.fired
        if fired:
            self._shut()

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
        self._shut()

    def _shut(self) -> None:
        sock = self._socket or getattr(self._connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        with self._lock:
            self.done = True


class _Watchdog:
    """One thread for every Watch, asleep until the nearest deadline (a thread per exchange
    would cost more than a short exchange itself)."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch) -> None:
        with self._ready:
            heapq.heappush(self._heap, (watch.when, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kjob-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._ready.notify()

    def _run(self) -> None:
        with self._ready:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._ready.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._ready.wait(delay)
                    continue
                heapq.heappop(self._heap)[2].fire()


_WATCHDOG = _Watchdog()


_watched = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[Watch]:
    """Every HTTP exchange this thread starts inside the block ends within `seconds` of its start."""
    watch = Watch(seconds)
    _watched.watch = watch
    try:
        yield watch
    finally:
        watch.cancel()
        _watched.watch = None


class _WatchedConnection:
    """A connection that hands itself to the thread's Watch as a request starts on it (before
    that, connecting is bounded by the connect timeout, and a TLS handshake by the socket's
    timeout as a whole)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_watched, "watch", None)
        if watch is not None:
            watch.attach(self)
        try:
            return super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            if watch is not None:
                watch.hold(self.sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = type("WatchedHTTPConnection", (_WatchedConnection, HTTPConnectionPool.ConnectionCls), {})


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("WatchedHTTPSConnection", (_WatchedConnection, HTTPSConnectionPool.ConnectionCls), {})


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, whose connections keep the deadline of `deadline()`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        return manager


class FileData(NamedTuple):
    """A payload that stays in its file until it is sent."""

    path: str
    size: int


class StreamedBody:
    """A request body of byte strings and files, read in order and never joined into one.

    requests sends a file-like body with a length as a Content-Length stream; `rewind`
    starts it again for a retry.
    """

    def __init__(self, parts: list[bytes | memoryview | FileData]) -> None:
        self.parts = parts
        self.length = sum(part.size if isinstance(part, FileData) else len(part) for part in parts)
        self.rewind()

    def __len__(self) -> int:
        return self.length

    def rewind(self) -> None:
        self._index, self._offset, self._file = 0, 0, None

    def __iter__(self):
        while chunk := self.read(READ_CHUNK):
            yield chunk

    def read(self, size: int = -1) -> bytes:
        size = self.length if size is None or size < 0 else size
        out = []
        while size > 0 and self._index < len(self.parts):
            part = self.parts[self._index]
            if isinstance(part, FileData):
                if self._file is None:
                    self._file = open(part.path, "rb")  # noqa: SIM115 (closed when the part is done)
                chunk = self._file.read(size)
                if not chunk:
                    self._file.close()
                    self._file = None
                    self._next_part()
                    continue
            else:
                chunk = bytes(part[self._offset : self._offset + size])
                self._offset += len(chunk)
                if self._offset >= len(part):
                    self._next_part()
            out.append(chunk)
            size -= len(chunk)
        return out[0] if len(out) == 1 else b"".join(out)

    def _next_part(self) -> None:
        self._index, self._offset = self._index + 1, 0


def user_agent() -> str:
    return f"kjob/{__version__} (Python/{platform.python_version()}; {platform.system()}; {platform.machine()})"


def redact_header(name: str, value: str) -> str:
    if name.lower() in ("authorization", "proxy-authorization", "cookie"):
        return value.split(" ", 1)[0] + " <redacted>" if " " in value else "<redacted>"
    return value


def describe_failure(exc: Exception, timeout: float) -> tuple[str, bool]:
    """A short reason for a failed exchange, and whether the request may have reached the server."""
    if isinstance(exc, (TimeoutError, urllib3.exceptions.ReadTimeoutError)):
        return f"no answer for {timeout:g} s in the middle of the answer", True
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {min(10.0, timeout):g} s", False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no complete answer within {timeout:g} s", True
    if isinstance(exc, requests.exceptions.SSLError):
        inner = _innermost(exc)
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({inner.verify_message}): give its CA with --ca-bundle", False
        return f"TLS failed ({inner}); check --ca-bundle", False
    text = _chain_text(exc)
    if "NewConnectionError" in text or "Failed to establish a new connection" in text:
        if "refused" in text.lower():
            return "connection refused", False
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "host not found", False
        return f"cannot connect ({_short(_innermost(exc))})", False
    if "reset" in text.lower():
        return "connection reset", True
    if "RemoteDisconnected" in text or "without response" in text or "Connection aborted" in text:
        return "connection closed without an answer", True
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "the answer was cut off", True
    return _short(_innermost(exc)), True


def _chain_text(exc: BaseException) -> str:
    parts, seen = [], set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        parts.append(f"{type(item).__name__}: {item}")
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return " | ".join(parts)


def _innermost(exc: BaseException) -> BaseException:
    """The exception at the bottom of requests' and urllib3's wrapping."""
    inner: BaseException = exc
    while True:
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        if nested is None or nested is inner:
            return inner
        inner = nested


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
