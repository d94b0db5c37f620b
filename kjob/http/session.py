"""What kjob's HTTP exchanges are made of: the requests session (read from the environment
once), a deadline that every exchange keeps, streamed request bodies, the User-Agent and
headers, and short reasons (with whether the request may have arrived) for exchanges that
failed."""

from __future__ import annotations

import base64
import heapq
import http.client
import itertools
import platform
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, NamedTuple

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kjob import __version__
from kjob.config import Settings, seconds
from kjob.protocol import encodings

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
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

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


class Session:
    """One keep-alive requests session for every cluster, built on first use.

    The environment is read once here, not on every request (trust_env costs two walks of
    os.environ and a .netrc look-up per call): proxies per cluster, and certificates from
    --ca-bundle (which also reads REQUESTS_CA_BUNDLE).
    """

    def __init__(self, settings: Settings, clusters: int, max_connections: int) -> None:
        self.settings = settings
        self.clusters = clusters
        self.max_connections = max_connections
        self._session: requests.Session | None = None
        self._proxies: dict[str, dict[str, str]] = {}

    @property
    def requests_session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            adapter = WatchedAdapter(pool_connections=max(1, self.clusters), pool_maxsize=self.max_connections, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.trust_env = False
            if self.settings.insecure:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                session.verify = False
            elif self.settings.ca_bundle:
                session.verify = self.settings.ca_bundle
            self._session = session
        return self._session

    def proxies_for(self, cluster: str) -> dict[str, str] | None:
        """The proxies the environment names for a cluster, looked up once per cluster."""
        if cluster not in self._proxies:
            self._proxies[cluster] = requests.utils.get_environ_proxies(cluster)
        return self._proxies[cluster] or None

    def headers(self, encoding: str) -> dict[str, str]:
        content_type = encodings.named(encoding).content_type
        # identity: a compressed answer could inflate a thousandfold in memory. gpudb 7.2 (through
        # requests) asks for gzip and follows redirects; kjob does neither (see Exchange.send).
        headers = {"Content-Type": content_type, "Accept": content_type, "Accept-Encoding": "identity", "User-Agent": user_agent()}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        elif self.settings.user:
            pair = f"{self.settings.user}:{self.settings.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers


class FileData(NamedTuple):
    """A payload that stays in its file until it is sent."""

    path: str
    size: int


class StreamedBody:
    """A request body of byte strings and files, sent in order and never joined into one.

    requests sends an object with `__len__` and `__iter__` as a Content-Length stream. Each
    iteration starts again from the first part: a retry sends the whole body again.
    """

    def __init__(self, parts: list[bytes | memoryview | FileData]) -> None:
        self.parts = parts
        self.length = sum(part.size if isinstance(part, FileData) else len(part) for part in parts)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes | memoryview]:
        # In chunks, a large part too: a socket timeout bounds a whole sendall(), not each step.
        for part in self.parts:
            if isinstance(part, FileData):
                with open(part.path, "rb") as handle:
                    while chunk := handle.read(READ_CHUNK):
                        yield chunk
            else:
                view = memoryview(part)
                for start in range(0, len(view), READ_CHUNK):
                    yield view[start : start + READ_CHUNK]


def user_agent() -> str:
    return f"kjob/{__version__} (Python/{platform.python_version()}; {platform.system()}; {platform.machine()})"


def redact_header(name: str, value: str) -> str:
    if name.lower() in ("authorization", "proxy-authorization", "cookie"):
        return value.split(" ", 1)[0] + " <redacted>" if " " in value else "<redacted>"
    return value


def describe_failure(exc: Exception, timeout: float) -> tuple[str, bool]:
    """A short reason for a failed exchange, and whether the request may have reached the server.

    Read from the types in the exception's chain (requests wraps urllib3, which wraps the
    socket's OSError, whose type carries its errno)."""
    if isinstance(exc, (TimeoutError, urllib3.exceptions.ReadTimeoutError)):
        return f"no answer for {seconds(timeout)} s in the middle of the answer", True
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {seconds(min(10.0, timeout))} s", False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no complete answer within {seconds(timeout)} s", True
    if isinstance(exc, requests.exceptions.SSLError):
        inner = _innermost(exc)
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({inner.verify_message}): give its CA with --ca-bundle", False
        return f"TLS failed ({inner}); check --ca-bundle", False
    chain = _chain(exc)

    def found(*kinds: type[BaseException]) -> bool:
        return any(isinstance(item, kinds) for item in chain)

    if found(urllib3.exceptions.NewConnectionError):
        if found(ConnectionRefusedError):
            return "connection refused", False
        if found(socket.gaierror, urllib3.exceptions.NameResolutionError):
            return "host not found", False
        return f"cannot connect ({_short(_innermost(exc))})", False
    if found(http.client.RemoteDisconnected):  # a ConnectionResetError too, but no reset
        return "connection closed without an answer", True
    if found(ConnectionResetError):
        return "connection reset", True
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)) or found(
        http.client.IncompleteRead, urllib3.exceptions.IncompleteRead
    ):
        return "the answer was cut off", True
    if isinstance(exc, requests.exceptions.ConnectionError) and found(urllib3.exceptions.ProtocolError):
        return "connection closed without an answer", True  # urllib3's "Connection aborted."
    return _short(_innermost(exc)), True


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception an exception wraps: causes, contexts, urllib3's `reason`, exceptions in args."""
    found: list[BaseException] = []
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return found


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
