"""Output files written whole or not at all: a temporary file beside the target, renamed into place.

What the user named is never replaced by something else: a symlink's target is written (the
link stays), and a FIFO or a device (which cannot be renamed over) is written through, as
`cat > FILE` would.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from kjob.errors import BadInput, ExitStatus, KjobError


class OutputFailed(KjobError):
    """The output file could not be written; the old file (if any) is kept as it was."""

    exit_code = ExitStatus.USAGE


def output_target(path: str | None) -> str | None:
    """An `-o` value as the file to write, None for stdout: `-` is stdout, as curl and most tools
    have it (`./-` names a file called `-`); an empty name is refused before anything is sent."""
    if path == "":
        raise BadInput("-o needs a file name (or - for stdout)")
    return None if path == "-" else path


@contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` only when the block completes; on any failure,
    including Ctrl-C, the temporary file is removed and `path` is untouched."""
    try:
        info: os.stat_result | None = os.stat(path)  # through a symlink
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputFailed(f"cannot write {path}: it is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        with _written_through(path, info) as handle:
            yield handle
        return
    target = os.path.realpath(path)  # a symlink's target is what gets replaced
    directory, name = os.path.split(target)
    try:
        handle_fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".kjob-partial", dir=directory)
    except OSError as exc:
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc} (nothing was changed)") from None
    except BaseException:
        _remove(temporary)
        raise


@contextmanager
def _written_through(path: str, info: os.stat_result) -> Iterator[BinaryIO]:
    """A FIFO or a device, opened and written as it is (not atomic: there is nothing to rename)."""
    if stat.S_ISSOCK(info.st_mode):
        raise OutputFailed(f"cannot write {path}: it is a socket")
    flags = os.O_WRONLY | (os.O_NONBLOCK if stat.S_ISFIFO(info.st_mode) else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(info.st_mode):
            raise OutputFailed(f"cannot write {path}: it is a FIFO that nothing reads") from None
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISFIFO(info.st_mode):
        os.set_blocking(fd, True)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
    except OSError as exc:
        raise OutputFailed(f"cannot write {path}: {exc.strerror or exc}") from None


def _mode_for(target: str) -> int:
    """The existing file's mode, or what a new file would get under the umask."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
