"""kjob's standard streams and signals: what a write to a closed or full stdout, a reader gone
away, Ctrl-C, SIGTERM and SIGHUP become (an exit code, never a traceback). Set up once by main()."""

from __future__ import annotations

import _thread
import contextlib
import errno
import io
import os
import signal
import sys
import time

from kjob.errors import Terminated


def broken(stream) -> bool:
    """Whether a standard stream has failed a write (closed, full, an I/O error)."""
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    return isinstance(raw, _StandardStream) and raw.failed is not None


class _StandardStream(io.RawIOBase):
    """stdout or stderr as kjob writes them. stdout: a write that fails is remembered, so that
    the error which reaches the top can be told for what it is (a full disk under `> /dev/full`,
    a stream closed with `>&-`: output nobody reads is no silent success). stderr: what it
    cannot take is dropped, and the exit code still tells the outcome."""

    def __init__(self, fd: int, closed: bool) -> None:
        super().__init__()
        self.fd = fd
        self.is_closed = closed
        self.failed: OSError | None = None
        self.silenced = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return not self.is_closed and os.isatty(self.fd)

    def write(self, data) -> int:
        if self.silenced:
            return len(data)
        try:
            if self.is_closed:
                raise OSError(errno.EBADF, "it is closed")
            return os.write(self.fd, data)
        except OSError as exc:
            self.failed = exc
            if self.fd == 2:
                self.silenced = True
                return len(data)
            raise


def reserve_standard_streams() -> None:
    """stdout and stderr written through _StandardStream; a closed stdin, stdout or stderr gets
    /dev/null as its descriptor, so that no file or socket kjob opens takes its number (stdin
    then stays None, which kjob reads as "closed")."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            closed = False
        except OSError:
            closed = True
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if fd == 0:
            continue
        old = getattr(sys, name)
        setattr(sys, name, io.TextIOWrapper(
            io.BufferedWriter(_StandardStream(fd, closed)), encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "strict", line_buffering=fd == 2 or bool(getattr(old, "line_buffering", False))))


_received: set[int] = set()  # the signals kjob was ended by


def terminate_on_signals() -> None:
    """SIGTERM and SIGHUP end kjob as Ctrl-C does, cleaning up on the way (a temporary file, the
    terminal's cursor), with exit code 128 + the signal; a signal the caller ignores stays ignored.
    Ctrl-C is noted as it becomes a KeyboardInterrupt, for end_interrupted()."""
    def handler(signum: int, frame) -> None:
        raise Terminated(signum)

    def interrupt(signum: int, frame) -> None:
        _received.add(signum)
        signal.default_int_handler(signum, frame)

    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) == signal.SIG_DFL:
            signal.signal(number, handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    sys.unraisablehook = _raise_lost_signals(sys.unraisablehook)


def _raise_lost_signals(default):
    """An unraisable-exception hook that keeps a signal from being lost.

    CPython cannot raise out of a weakref callback or a __del__: a Ctrl-C or SIGTERM whose
    handler runs in one (an import's module lock, and kjob imports lazily) is printed as
    "Exception ignored in ..." and dropped, and kjob goes on. Such a signal is delivered to the
    main thread again a moment later, once the callback is over; anything else goes to `default`."""
    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = signal.SIGINT
        elif isinstance(unraisable.exc_value, Terminated):
            signum = unraisable.exc_value.signum
        else:
            default(unraisable)
            return
        _thread.start_new_thread(_interrupt_main_soon, (signum,))

    return hook


def _interrupt_main_soon(signum: int) -> None:
    time.sleep(0.05)  # the callback that dropped it has returned by then
    _thread.interrupt_main(signum)


def end_interrupted() -> None:
    """After a Ctrl-C and its clean-up, end by SIGINT itself, as a program that handles SIGINT
    should (https://www.cons.org/cracauer/sigint.html; CPython does the same for an uncaught ^C):
    the shell still reports 130, and a shell loop around kjob stops instead of going on.

    It also makes the end certain: CPython 3.11 ends a process by SIGINT anyway, whatever its
    exit code, when the KeyboardInterrupt went through an eval() of a string (a namedtuple or
    a dataclass being built by a lazy import), even though kjob caught it."""
    if signal.SIGINT not in _received:
        return  # the interrupt was not a Ctrl-C (an end of input at the password prompt)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.raise_signal(signal.SIGINT)


def silence_stdout() -> None:
    """Stdout cannot be written (the reader went away, a full disk, closed): what is left for
    it goes nowhere, so that the flush at exit cannot fail again with a traceback."""
    _silence(sys.stdout)


def quiet_stderr() -> None:
    _silence(sys.stderr)


def _silence(stream) -> None:
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    if isinstance(raw, _StandardStream):
        raw.silenced = True
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
